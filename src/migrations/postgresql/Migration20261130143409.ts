import { Migration } from '@mikro-orm/migrations';

export class Migration20261130143409 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "conflict_warning" add column "source" text null;`);
    this.addSql(`alter table "external_event" add column "unreadable" text null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "conflict_warning" drop column "source";`);
    this.addSql(`alter table "external_event" drop column "unreadable";`);
  }

}
