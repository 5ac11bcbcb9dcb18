import { Migration } from '@mikro-orm/migrations';

/** AppointmentSyncLink.crmModifiedAt: when the CRM last changed the version iCloud holds. */
export class Migration20261130200000 extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table `appointment_sync_link` add column `crm_modified_at` datetime null;');
  }
}
