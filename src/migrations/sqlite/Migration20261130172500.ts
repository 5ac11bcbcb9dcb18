import { Migration } from '@mikro-orm/migrations';

/** OutboxEntry.leaseOwner: the drain holding an entry, so that only it finishes or releases it. */
export class Migration20261130172500 extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table `outbox_entry` add column `lease_owner` text null;');
  }
}
