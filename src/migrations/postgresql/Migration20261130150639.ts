import { Migration } from '@mikro-orm/migrations';

export class Migration20261130150639 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "connect_budget" ("key" text not null, "window_start" timestamptz not null, "attempts" int not null, constraint "connect_budget_pkey" primary key ("key"));`);

    this.addSql(`drop table if exists "connect_attempt" cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`create table "connect_attempt" ("id" uuid not null, "user_id" uuid not null, "created_at" timestamptz(6) not null, constraint "connect_attempt_pkey" primary key ("id"));`);
    this.addSql(`create index "connect_attempt_user_id_created_at_index" on "connect_attempt" ("user_id", "created_at");`);

    this.addSql(`drop table if exists "connect_budget" cascade;`);
  }

}
