import { Migration } from '@mikro-orm/migrations';

/** Assignments indexed by (user, block end) instead of (user, block start): see the SQLite migration of the same day. */
export class Migration20261201045737 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`drop index "appointment_assignee_user_id_block_start_index";`);

    this.addSql(`create index "appointment_assignee_user_id_block_end_index" on "appointment_assignee" ("user_id", "block_end");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "appointment_assignee_user_id_block_end_index";`);

    this.addSql(`create index "appointment_assignee_user_id_block_start_index" on "appointment_assignee" ("user_id", "block_start");`);
  }

}
