import { Migration } from '@mikro-orm/migrations';

/** SyncRun.nextSyncAt: when the integration was due to sync next as the run ended. */
export class Migration20261130203000 extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "sync_run" add column "next_sync_at" timestamptz null;');
  }
}
