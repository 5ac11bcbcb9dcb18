import { Migration } from '@mikro-orm/migrations';

export class Migration20261124074345 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`connect_attempt\` (\`id\` text not null, \`user_id\` text not null, \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`connect_attempt_user_id_created_at_index\` on \`connect_attempt\` (\`user_id\`, \`created_at\`);`);

    this.addSql(`create table \`user\` (\`id\` text not null, \`external_id\` text not null, \`tenant_id\` text not null, \`timezone\` text not null default 'UTC', \`created_at\` datetime not null, primary key (\`id\`));`);
    this.addSql(`create index \`user_tenant_id_index\` on \`user\` (\`tenant_id\`);`);
    this.addSql(`create unique index \`user_tenant_id_external_id_unique\` on \`user\` (\`tenant_id\`, \`external_id\`);`);

    this.addSql(`create table \`calendar_integration\` (\`id\` text not null, \`user_id\` text not null, \`tenant_id\` text not null, \`provider\` text not null default 'ICLOUD', \`apple_id\` text not null, \`password_cipher\` text null, \`principal_url\` text not null, \`home_url\` text not null, \`status\` text check (\`status\` in ('CONNECTED', 'NEEDS_RECONNECT', 'ERROR', 'DISCONNECTED')) not null default 'CONNECTED', \`status_message\` text null, \`last_synced_at\` datetime null, \`next_sync_at\` datetime null, \`failure_count\` integer not null default 0, \`lease_owner\` text null, \`lease_until\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`calendar_integration_user_id_foreign\` foreign key(\`user_id\`) references \`user\`(\`id\`) on delete cascade on update cascade, primary key (\`id\`));`);
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
