import { Migration } from '@mikro-orm/migrations';

export class Migration20261124083542 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`appointment_sync_link\` (\`id\` text not null, \`sync_key\` text not null, \`user_id\` text not null, \`uid\` text not null, \`calendar_href\` text null, \`href\` text null, \`etag\` text null, \`content_hash\` text null, \`state\` text check (\`state\` in ('PENDING', 'SYNCED', 'FAILED', 'NOT_CONNECTED', 'DELETED_IN_ICLOUD')) not null default 'PENDING', \`last_error\` text null, \`updated_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`appointment_sync_link_sync_key_index\` on \`appointment_sync_link\` (\`sync_key\`);`);
    this.addSql(`create index \`appointment_sync_link_user_id_state_index\` on \`appointment_sync_link\` (\`user_id\`, \`state\`);`);
    this.addSql(`create unique index \`appointment_sync_link_sync_key_user_id_unique\` on \`appointment_sync_link\` (\`sync_key\`, \`user_id\`);`);

    this.addSql(`create table \`conflict_warning\` (\`id\` text not null, \`tenant_id\` text not null, \`user_id\` text not null, \`kind\` text check (\`kind\` in ('DOUBLE_BOOKING', 'EDIT_CONFLICT', 'DELETED_IN_ICLOUD')) not null, \`appointment_id\` text null, \`message\` text not null, \`starts_at\` datetime null, \`ends_at\` datetime null, \`details\` json null, \`created_at\` datetime not null, \`resolved\` integer not null default false, primary key (\`id\`));`);
    this.addSql(`create index \`conflict_warning_tenant_id_user_id_resolved_index\` on \`conflict_warning\` (\`tenant_id\`, \`user_id\`, \`resolved\`);`);

    this.addSql(`create table \`connect_attempt\` (\`id\` text not null, \`user_id\` text not null, \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`connect_attempt_user_id_created_at_index\` on \`connect_attempt\` (\`user_id\`, \`created_at\`);`);

    this.addSql(`create table \`contact\` (\`id\` text not null, \`tenant_id\` text not null, \`name\` text not null, \`email\` text null, \`phone\` text null, \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`contact_tenant_id_index\` on \`contact\` (\`tenant_id\`);`);

    this.addSql(`create table \`crm_calendar\` (\`id\` text not null, \`tenant_id\` text not null, \`name\` text not null, \`type\` text check (\`type\` in ('CLASS_BOOKING', 'ROUND_ROBIN', 'COLLECTIVE', 'SERVICE')) not null, \`timezone\` text not null, \`slot_duration_minutes\` integer not null, \`slot_interval_minutes\` integer not null, \`buffer_before_minutes\` integer not null default 0, \`buffer_after_minutes\` integer not null default 0, \`seats_per_slot\` integer not null default 1, \`round_robin_mode\` text check (\`round_robin_mode\` in ('OPTIMIZE_FOR_AVAILABILITY', 'EQUAL_DISTRIBUTION')) not null default 'OPTIMIZE_FOR_AVAILABILITY', \`min_notice_minutes\` integer not null default 0, \`booking_window_days\` integer not null default 60, \`open_hours\` json not null, \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`crm_calendar_tenant_id_index\` on \`crm_calendar\` (\`tenant_id\`);`);

    this.addSql(`create table \`appointment\` (\`id\` text not null, \`tenant_id\` text not null, \`calendar_id\` text not null, \`contact_id\` text not null, \`starts_at\` datetime not null, \`ends_at\` datetime not null, \`title\` text not null, \`notes\` text null, \`location\` text null, \`status\` text check (\`status\` in ('BOOKED', 'CANCELLED')) not null default 'BOOKED', \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`appointment_calendar_id_foreign\` foreign key(\`calendar_id\`) references \`crm_calendar\`(\`id\`) on update cascade, constraint \`appointment_contact_id_foreign\` foreign key(\`contact_id\`) references \`contact\`(\`id\`) on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`appointment_tenant_id_index\` on \`appointment\` (\`tenant_id\`);`);
    this.addSql(`create index \`appointment_calendar_id_index\` on \`appointment\` (\`calendar_id\`);`);
    this.addSql(`create index \`appointment_contact_id_index\` on \`appointment\` (\`contact_id\`);`);
    this.addSql(`create index \`appointment_calendar_id_starts_at_index\` on \`appointment\` (\`calendar_id\`, \`starts_at\`);`);

    this.addSql(`create table \`appointment_assignee\` (\`id\` text not null, \`appointment_id\` text not null, \`user_id\` text not null, \`block_start\` datetime not null, \`block_end\` datetime not null, \`active\` integer not null default true, constraint \`appointment_assignee_appointment_id_foreign\` foreign key(\`appointment_id\`) references \`appointment\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`appointment_assignee_appointment_id_index\` on \`appointment_assignee\` (\`appointment_id\`);`);
    this.addSql(`create index \`appointment_assignee_user_id_block_start_index\` on \`appointment_assignee\` (\`user_id\`, \`block_start\`);`);

    this.addSql(`create table \`outbox_entry\` (\`id\` text not null, \`sync_key\` text not null, \`user_id\` text not null, \`attempts\` integer not null default 0, \`next_attempt_at\` datetime not null, \`last_error\` text null, \`lease_until\` datetime null, \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`outbox_entry_next_attempt_at_index\` on \`outbox_entry\` (\`next_attempt_at\`);`);

    this.addSql(`create table \`user\` (\`id\` text not null, \`external_id\` text not null, \`tenant_id\` text not null, \`timezone\` text not null default 'UTC', \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`user_tenant_id_index\` on \`user\` (\`tenant_id\`);`);
    this.addSql(`create unique index \`user_tenant_id_external_id_unique\` on \`user\` (\`tenant_id\`, \`external_id\`);`);

    this.addSql(`create table \`crm_calendar_member\` (\`id\` text not null, \`calendar_id\` text not null, \`user_id\` text not null, \`priority\` text check (\`priority\` in ('HIGH', 'MEDIUM', 'LOW')) not null default 'MEDIUM', \`is_primary\` integer not null default false, constraint \`crm_calendar_member_calendar_id_foreign\` foreign key(\`calendar_id\`) references \`crm_calendar\`(\`id\`) on delete cascade on update cascade, constraint \`crm_calendar_member_user_id_foreign\` foreign key(\`user_id\`) references \`user\`(\`id\`) on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`crm_calendar_member_calendar_id_index\` on \`crm_calendar_member\` (\`calendar_id\`);`);
    this.addSql(`create index \`crm_calendar_member_user_id_index\` on \`crm_calendar_member\` (\`user_id\`);`);

    this.addSql(`create table \`calendar_integration\` (\`id\` text not null, \`user_id\` text not null, \`tenant_id\` text not null, \`provider\` text not null default 'ICLOUD', \`apple_id\` text not null, \`password_cipher\` text null, \`principal_url\` text not null, \`home_url\` text not null, \`status\` text check (\`status\` in ('CONNECTED', 'NEEDS_RECONNECT', 'ERROR', 'DISCONNECTED')) not null default 'CONNECTED', \`status_message\` text null, \`last_synced_at\` datetime null, \`next_sync_at\` datetime null, \`calendars_refreshed_at\` datetime null, \`failure_count\` integer not null default 0, \`lease_owner\` text null, \`lease_until\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`calendar_integration_user_id_foreign\` foreign key(\`user_id\`) references \`user\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`calendar_integration_user_id_index\` on \`calendar_integration\` (\`user_id\`);`);
    this.addSql(`create index \`calendar_integration_tenant_id_index\` on \`calendar_integration\` (\`tenant_id\`);`);
    this.addSql(`create unique index \`calendar_integration_user_id_apple_id_unique\` on \`calendar_integration\` (\`user_id\`, \`apple_id\`);`);

    this.addSql(`create table \`sync_run\` (\`id\` text not null, \`integration_id\` text not null, \`started_at\` datetime not null, \`finished_at\` datetime null, \`outcome\` text check (\`outcome\` in ('SUCCESS', 'PARTIAL', 'FAILED')) not null default 'SUCCESS', \`requests\` integer not null default 0, \`created\` integer not null default 0, \`updated\` integer not null default 0, \`deleted\` integer not null default 0, \`warnings\` json not null, \`error\` text null, constraint \`sync_run_integration_id_foreign\` foreign key(\`integration_id\`) references \`calendar_integration\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`sync_run_integration_id_index\` on \`sync_run\` (\`integration_id\`);`);
    this.addSql(`create index \`sync_run_integration_id_started_at_index\` on \`sync_run\` (\`integration_id\`, \`started_at\`);`);

    this.addSql(`create table \`external_calendar\` (\`id\` text not null, \`integration_id\` text not null, \`href\` text not null, \`name\` text not null, \`color\` text null, \`writable\` integer not null default true, \`is_primary\` integer not null default false, \`check_for_conflicts\` integer not null default false, \`sync_token\` text null, \`ctag\` text null, \`last_full_sync_at\` datetime null, \`empty_listing_since\` datetime null, constraint \`external_calendar_integration_id_foreign\` foreign key(\`integration_id\`) references \`calendar_integration\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`external_calendar_integration_id_index\` on \`external_calendar\` (\`integration_id\`);`);
    this.addSql(`create unique index \`external_calendar_integration_id_href_unique\` on \`external_calendar\` (\`integration_id\`, \`href\`);`);

    this.addSql(`create table \`external_event\` (\`id\` text not null, \`calendar_id\` text not null, \`href\` text not null, \`etag\` text not null, \`uid\` text not null, \`content_hash\` text not null, \`summary\` text null, \`raw\` text not null, \`origin\` text check (\`origin\` in ('CRM', 'ICLOUD')) not null default 'ICLOUD', \`last_modified\` datetime null, \`updated_at\` datetime not null, constraint \`external_event_calendar_id_foreign\` foreign key(\`calendar_id\`) references \`external_calendar\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`external_event_calendar_id_index\` on \`external_event\` (\`calendar_id\`);`);
    this.addSql(`create unique index \`external_event_calendar_id_href_unique\` on \`external_event\` (\`calendar_id\`, \`href\`);`);

    this.addSql(`create table \`busy_interval\` (\`id\` text not null, \`user_id\` text not null, \`calendar_id\` text not null, \`event_id\` text not null, \`starts_at\` datetime not null, \`ends_at\` datetime not null, \`title\` text null, constraint \`busy_interval_calendar_id_foreign\` foreign key(\`calendar_id\`) references \`external_calendar\`(\`id\`) on delete cascade on update cascade, constraint \`busy_interval_event_id_foreign\` foreign key(\`event_id\`) references \`external_event\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
    this.addSql(`create index \`busy_interval_calendar_id_index\` on \`busy_interval\` (\`calendar_id\`);`);
    this.addSql(`create index \`busy_interval_event_id_index\` on \`busy_interval\` (\`event_id\`);`);
    this.addSql(`create index \`busy_interval_user_id_starts_at_index\` on \`busy_interval\` (\`user_id\`, \`starts_at\`);`);
  }

}
