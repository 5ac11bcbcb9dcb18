import { Migration } from '@mikro-orm/migrations';

/**
 * Assignments indexed by (user, block end) instead of (user, block start): what blocks a time from now on is
 * found without reading the user's past. (The generated diff also rebuilt tables SQLite cannot alter in
 * place; only the index changed.)
 */
export class Migration20261201045726 extends Migration {
  override async up(): Promise<void> {
    this.addSql('drop index `appointment_assignee_user_id_block_start_index`;');
    this.addSql('create index `appointment_assignee_user_id_block_end_index` on `appointment_assignee` (`user_id`, `block_end`);');
  }

  override async down(): Promise<void> {
    this.addSql('drop index `appointment_assignee_user_id_block_end_index`;');
    this.addSql('create index `appointment_assignee_user_id_block_start_index` on `appointment_assignee` (`user_id`, `block_start`);');
  }
}
