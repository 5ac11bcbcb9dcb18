import { Migration } from '@mikro-orm/migrations';

/** ConnectBudget (attempts per user and per Apple ID, counted atomically) replaces ConnectAttempt. */
export class Migration20261130150658 extends Migration {
  override async up(): Promise<void> {
    this.addSql('create table `connect_budget` (`key` text not null, `window_start` datetime not null, `attempts` integer not null, primary key (`key`));');
    this.addSql('drop table if exists `connect_attempt`;');
  }
}
