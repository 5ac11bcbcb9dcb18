import { Migration } from '@mikro-orm/migrations';

export class Migration20261130152844 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "appointment_sync_link" add column "unconfirmed" jsonb not null default '[]';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "appointment_sync_link" drop column "unconfirmed";`);
  }

}
