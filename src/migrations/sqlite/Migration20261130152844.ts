import { Migration } from '@mikro-orm/migrations';

/** AppointmentSyncLink.unconfirmed: versions written ahead of their PUT, so that a lost answer is no conflict. */
export class Migration20261130152844 extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table `appointment_sync_link` add column `unconfirmed` json not null default '[]';");
  }
}
