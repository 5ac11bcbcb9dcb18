import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, ManyToOne, PrimaryKey, Property, Unique, DateTimeType } from '@mikro-orm/core';
import type { CalendarIntegration } from './calendar-integration.entity';

/** A VEVENT calendar of an integration, with the user's choices and the sync cursors. */
@Entity()
@Unique({ properties: ['integration', 'href'] })
export class ExternalCalendar {
  [OptionalProps]?: 'id' | 'color' | 'writable' | 'isPrimary' | 'checkForConflicts' | 'syncToken' | 'ctag' | 'emptyListingSince' | 'lastFullSyncAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne('CalendarIntegration', { deleteRule: 'cascade' })
  integration!: CalendarIntegration;

  /** Absolute URL of the collection (resolved against the response it was listed in). */
  @Property({ type: 'text' })
  href!: string;

  @Property({ type: 'string' })
  name!: string;

  @Property({ type: 'string', nullable: true })
  color: string | null = null;

  @Property({ type: 'boolean' })
  writable: boolean = true;

  /** At most one per user across all integrations; CRM appointments are written here. */
  @Property({ type: 'boolean' })
  isPrimary: boolean = false;

  /** Events of this calendar block booking. Always true for the primary. */
  @Property({ type: 'boolean' })
  checkForConflicts: boolean = false;

  @Property({ type: 'text', nullable: true })
  syncToken: string | null = null;

  @Property({ type: 'string', nullable: true })
  ctag: string | null = null;

  /** Last full listing: a daily one catches what a token answer may hide (iCloud's expired tokens). */
  @Property({ type: DateTimeType, nullable: true })
  lastFullSyncAt: Date | null = null;

  /** When a full listing first came back empty while events were stored: deletions wait for a second one. */
  @Property({ type: DateTimeType, nullable: true })
  emptyListingSince: Date | null = null;
}
