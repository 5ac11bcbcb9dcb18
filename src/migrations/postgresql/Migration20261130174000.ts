import { Migration } from '@mikro-orm/migrations';

/** IntegrationStatusChange: the history of an integration's status, written by its transitions. */
export class Migration20261130174000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "integration_status_change" ("id" uuid not null, "integration_id" uuid not null, "tenant_id" varchar(255) not null, "transition" varchar(255) not null, "from" text check ("from" in ('CONNECTED', 'NEEDS_RECONNECT', 'ERROR', 'DISCONNECTED')) null, "to" text check ("to" in ('CONNECTED', 'NEEDS_RECONNECT', 'ERROR', 'DISCONNECTED')) not null, "message" text null, "at" timestamptz not null, constraint "integration_status_change_pkey" primary key ("id"));`);
    this.addSql(`create index "integration_status_change_integration_id_at_index" on "integration_status_change" ("integration_id", "at");`);
    this.addSql(`alter table "integration_status_change" add constraint "integration_status_change_integration_id_foreign" foreign key ("integration_id") references "calendar_integration" ("id") on update cascade on delete cascade;`);
  }
}
