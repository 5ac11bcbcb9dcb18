import { Migration } from '@mikro-orm/migrations';

export class Migration20261124083548 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "appointment_sync_link" ("id" uuid not null, "sync_key" varchar(255) not null, "user_id" uuid not null, "uid" varchar(255) not null, "calendar_href" text null, "href" text null, "etag" text null, "content_hash" varchar(255) null, "state" text check ("state" in ('PENDING', 'SYNCED', 'FAILED', 'NOT_CONNECTED', 'DELETED_IN_ICLOUD')) not null default 'PENDING', "last_error" text null, "updated_at" timestamptz not null, constraint "appointment_sync_link_pkey" primary key ("id"));`);
    this.addSql(`create index "appointment_sync_link_sync_key_index" on "appointment_sync_link" ("sync_key");`);
    this.addSql(`create index "appointment_sync_link_user_id_state_index" on "appointment_sync_link" ("user_id", "state");`);
    this.addSql(`alter table "appointment_sync_link" add constraint "appointment_sync_link_sync_key_user_id_unique" unique ("sync_key", "user_id");`);

    this.addSql(`create table "conflict_warning" ("id" uuid not null, "tenant_id" varchar(255) not null, "user_id" uuid not null, "kind" text check ("kind" in ('DOUBLE_BOOKING', 'EDIT_CONFLICT', 'DELETED_IN_ICLOUD')) not null, "appointment_id" uuid null, "message" text not null, "starts_at" timestamptz null, "ends_at" timestamptz null, "details" jsonb null, "created_at" timestamptz not null, "resolved" boolean not null default false, constraint "conflict_warning_pkey" primary key ("id"));`);
    this.addSql(`create index "conflict_warning_tenant_id_user_id_resolved_index" on "conflict_warning" ("tenant_id", "user_id", "resolved");`);

    this.addSql(`create table "connect_attempt" ("id" uuid not null, "user_id" uuid not null, "created_at" timestamptz not null, constraint "connect_attempt_pkey" primary key ("id"));`);
    this.addSql(`create index "connect_attempt_user_id_created_at_index" on "connect_attempt" ("user_id", "created_at");`);

    this.addSql(`create table "contact" ("id" uuid not null, "tenant_id" varchar(255) not null, "name" varchar(255) not null, "email" varchar(255) null, "phone" varchar(255) null, "created_at" timestamptz not null, constraint "contact_pkey" primary key ("id"));`);
    this.addSql(`create index "contact_tenant_id_index" on "contact" ("tenant_id");`);

    this.addSql(`create table "crm_calendar" ("id" uuid not null, "tenant_id" varchar(255) not null, "name" varchar(255) not null, "type" text check ("type" in ('CLASS_BOOKING', 'ROUND_ROBIN', 'COLLECTIVE', 'SERVICE')) not null, "timezone" varchar(255) not null, "slot_duration_minutes" int not null, "slot_interval_minutes" int not null, "buffer_before_minutes" int not null default 0, "buffer_after_minutes" int not null default 0, "seats_per_slot" int not null default 1, "round_robin_mode" text check ("round_robin_mode" in ('OPTIMIZE_FOR_AVAILABILITY', 'EQUAL_DISTRIBUTION')) not null default 'OPTIMIZE_FOR_AVAILABILITY', "min_notice_minutes" int not null default 0, "booking_window_days" int not null default 60, "open_hours" jsonb not null, "created_at" timestamptz not null, constraint "crm_calendar_pkey" primary key ("id"));`);
    this.addSql(`create index "crm_calendar_tenant_id_index" on "crm_calendar" ("tenant_id");`);

    this.addSql(`create table "appointment" ("id" uuid not null, "tenant_id" varchar(255) not null, "calendar_id" uuid not null, "contact_id" uuid not null, "starts_at" timestamptz not null, "ends_at" timestamptz not null, "title" varchar(255) not null, "notes" text null, "location" text null, "status" text check ("status" in ('BOOKED', 'CANCELLED')) not null default 'BOOKED', "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "appointment_pkey" primary key ("id"));`);
    this.addSql(`create index "appointment_tenant_id_index" on "appointment" ("tenant_id");`);
    this.addSql(`create index "appointment_calendar_id_starts_at_index" on "appointment" ("calendar_id", "starts_at");`);

    this.addSql(`create table "appointment_assignee" ("id" uuid not null, "appointment_id" uuid not null, "user_id" uuid not null, "block_start" timestamptz not null, "block_end" timestamptz not null, "active" boolean not null default true, constraint "appointment_assignee_pkey" primary key ("id"));`);
    this.addSql(`create index "appointment_assignee_user_id_block_start_index" on "appointment_assignee" ("user_id", "block_start");`);

    this.addSql(`create table "outbox_entry" ("id" uuid not null, "sync_key" varchar(255) not null, "user_id" uuid not null, "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "last_error" text null, "lease_until" timestamptz null, "created_at" timestamptz not null, constraint "outbox_entry_pkey" primary key ("id"));`);
    this.addSql(`create index "outbox_entry_next_attempt_at_index" on "outbox_entry" ("next_attempt_at");`);

    this.addSql(`create table "user" ("id" uuid not null, "external_id" varchar(255) not null, "tenant_id" varchar(255) not null, "timezone" varchar(255) not null default 'UTC', "created_at" timestamptz not null, constraint "user_pkey" primary key ("id"));`);
    this.addSql(`create index "user_tenant_id_index" on "user" ("tenant_id");`);
    this.addSql(`alter table "user" add constraint "user_tenant_id_external_id_unique" unique ("tenant_id", "external_id");`);

    this.addSql(`create table "crm_calendar_member" ("id" uuid not null, "calendar_id" uuid not null, "user_id" uuid not null, "priority" text check ("priority" in ('HIGH', 'MEDIUM', 'LOW')) not null default 'MEDIUM', "is_primary" boolean not null default false, constraint "crm_calendar_member_pkey" primary key ("id"));`);

    this.addSql(`create table "calendar_integration" ("id" uuid not null, "user_id" uuid not null, "tenant_id" varchar(255) not null, "provider" varchar(255) not null default 'ICLOUD', "apple_id" varchar(255) not null, "password_cipher" text null, "principal_url" text not null, "home_url" text not null, "status" text check ("status" in ('CONNECTED', 'NEEDS_RECONNECT', 'ERROR', 'DISCONNECTED')) not null default 'CONNECTED', "status_message" text null, "last_synced_at" timestamptz null, "next_sync_at" timestamptz null, "calendars_refreshed_at" timestamptz null, "failure_count" int not null default 0, "lease_owner" varchar(255) null, "lease_until" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "calendar_integration_pkey" primary key ("id"));`);
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

    this.addSql(`alter table "appointment" add constraint "appointment_calendar_id_foreign" foreign key ("calendar_id") references "crm_calendar" ("id") on update cascade;`);
    this.addSql(`alter table "appointment" add constraint "appointment_contact_id_foreign" foreign key ("contact_id") references "contact" ("id") on update cascade;`);

    this.addSql(`alter table "appointment_assignee" add constraint "appointment_assignee_appointment_id_foreign" foreign key ("appointment_id") references "appointment" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "crm_calendar_member" add constraint "crm_calendar_member_calendar_id_foreign" foreign key ("calendar_id") references "crm_calendar" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "crm_calendar_member" add constraint "crm_calendar_member_user_id_foreign" foreign key ("user_id") references "user" ("id") on update cascade;`);

    this.addSql(`alter table "calendar_integration" add constraint "calendar_integration_user_id_foreign" foreign key ("user_id") references "user" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "sync_run" add constraint "sync_run_integration_id_foreign" foreign key ("integration_id") references "calendar_integration" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "external_calendar" add constraint "external_calendar_integration_id_foreign" foreign key ("integration_id") references "calendar_integration" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "external_event" add constraint "external_event_calendar_id_foreign" foreign key ("calendar_id") references "external_calendar" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "busy_interval" add constraint "busy_interval_calendar_id_foreign" foreign key ("calendar_id") references "external_calendar" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "busy_interval" add constraint "busy_interval_event_id_foreign" foreign key ("event_id") references "external_event" ("id") on update cascade on delete cascade;`);
  }

}
