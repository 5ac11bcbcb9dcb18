import { Migration } from '@mikro-orm/migrations';

export class Migration20261124074350 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "connect_attempt" ("id" uuid not null, "user_id" uuid not null, "created_at" timestamptz not null, constraint "connect_attempt_pkey" primary key ("id"));`);
    this.addSql(`create index "connect_attempt_user_id_created_at_index" on "connect_attempt" ("user_id", "created_at");`);

    this.addSql(`create table "user" ("id" uuid not null, "external_id" varchar(255) not null, "tenant_id" varchar(255) not null, "timezone" varchar(255) not null default 'UTC', "created_at" timestamptz not null, constraint "user_pkey" primary key ("id"));`);
    this.addSql(`create index "user_tenant_id_index" on "user" ("tenant_id");`);
    this.addSql(`alter table "user" add constraint "user_tenant_id_external_id_unique" unique ("tenant_id", "external_id");`);

    this.addSql(`create table "calendar_integration" ("id" uuid not null, "user_id" uuid not null, "tenant_id" varchar(255) not null, "provider" varchar(255) not null default 'ICLOUD', "apple_id" varchar(255) not null, "password_cipher" text null, "principal_url" text not null, "home_url" text not null, "status" text check ("status" in ('CONNECTED', 'NEEDS_RECONNECT', 'ERROR', 'DISCONNECTED')) not null default 'CONNECTED', "status_message" text null, "last_synced_at" timestamptz null, "next_sync_at" timestamptz null, "failure_count" int not null default 0, "lease_owner" varchar(255) null, "lease_until" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "calendar_integration_pkey" primary key ("id"));`);
    this.addSql(`create index "calendar_integration_tenant_id_index" on "calendar_integration" ("tenant_id");`);
    this.addSql(`alter table "calendar_integration" add constraint "calendar_integration_user_id_apple_id_unique" unique ("user_id", "apple_id");`);

    this.addSql(`create table "sync_run" ("id" uuid not null, "integration_id" uuid not null, "started_at" timestamptz not null, "finished_at" timestamptz null, "outcome" text check ("outcome" in ('SUCCESS', 'PARTIAL', 'FAILED')) not null default 'SUCCESS', "requests" int not null default 0, "created" int not null default 0, "updated" int not null default 0, "deleted" int not null default 0, "warnings" jsonb not null, "error" text null, constraint "sync_run_pkey" primary key ("id"));`);
    this.addSql(`create index "sync_run_integration_id_started_at_index" on "sync_run" ("integration_id", "started_at");`);

    this.addSql(`create table "external_calendar" ("id" uuid not null, "integration_id" uuid not null, "href" text not null, "name" varchar(255) not null, "color" varchar(255) null, "writable" boolean not null default true, "is_primary" boolean not null default false, "check_for_conflicts" boolean not null default false, "sync_token" text null, "ctag" varchar(255) null, "last_full_sync_at" timestamptz null, "empty_listing_since" timestamptz null, constraint "external_calendar_pkey" primary key ("id"));`);
    this.addSql(`alter table "external_calendar" add constraint "external_calendar_integration_id_href_unique" unique ("integration_id", "href");`);

    this.addSql(`create table "external_event" ("id" uuid not null, "calendar_id" uuid not null, "href" text not null, "etag" text not null, "uid" text not null, "content_hash" varchar(255) not null, "summary" text null, "raw" text not null, "origin" text check ("origin" in ('CRM', 'ICLOUD')) not null default 'ICLOUD', "last_modified" timestamptz null, "updated_at" timestamptz not null, constraint "external_event_pkey" primary key ("id"));`);
    this.addSql(`alter table "external_event" add constraint "external_event_calendar_id_href_unique" unique ("calendar_id", "href");`);

    this.addSql(`create table "busy_interval" ("id" uuid not null, "user_id" uuid not null, "calendar_id" uuid not null, "event_id" uuid not null, "starts_at" timestamptz not null, "ends_at" timestamptz not null, "title" text null, constraint "busy_interval_pkey" primary key ("id"));`);
    this.addSql(`create index "busy_interval_user_id_starts_at_index" on "busy_interval" ("user_id", "starts_at");`);

    this.addSql(`alter table "calendar_integration" add constraint "calendar_integration_user_id_foreign" foreign key ("user_id") references "user" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "sync_run" add constraint "sync_run_integration_id_foreign" foreign key ("integration_id") references "calendar_integration" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "external_calendar" add constraint "external_calendar_integration_id_foreign" foreign key ("integration_id") references "calendar_integration" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "external_event" add constraint "external_event_calendar_id_foreign" foreign key ("calendar_id") references "external_calendar" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "busy_interval" add constraint "busy_interval_calendar_id_foreign" foreign key ("calendar_id") references "external_calendar" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "busy_interval" add constraint "busy_interval_event_id_foreign" foreign key ("event_id") references "external_event" ("id") on update cascade on delete cascade;`);
  }

}
