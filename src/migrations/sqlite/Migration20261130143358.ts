import { Migration } from '@mikro-orm/migrations';

/** ConflictWarning.source (one DOUBLE_BOOKING per iCloud event and appointment); ExternalEvent.unreadable. */
export class Migration20261130143358 extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table `conflict_warning` add column `source` text null;');
    this.addSql('alter table `external_event` add column `unreadable` text null;');
  }
}
