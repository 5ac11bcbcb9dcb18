import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, Enum, Index, PrimaryKey, Property, Unique, DateTimeType } from '@mikro-orm/core';

export enum SyncState {
  PENDING = 'PENDING',
  SYNCED = 'SYNCED',
  FAILED = 'FAILED',
  NOT_CONNECTED = 'NOT_CONNECTED',
  DELETED_IN_ICLOUD = 'DELETED_IN_ICLOUD',
}

/**
 * One pushed copy: the iCloud event of a sync key in one user's primary calendar. The key is
 * `appt:<appointmentId>` for an appointment, `class:<calendarId>:<start ISO>` for a class session (see sync/sync-key.ts)
 * (ONE event for all its seats). The status row of outbound sync: href, etag and content hash as written.
 */
@Entity()
@Unique({ properties: ['syncKey', 'userId'] })
@Index({ properties: ['userId', 'state'] })
export class AppointmentSyncLink {
  [OptionalProps]?: 'id' | 'calendarHref' | 'href' | 'etag' | 'contentHash' | 'unconfirmed' | 'crmModifiedAt' | 'state' | 'lastError' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'string', index: true })
  syncKey!: string;

  /** Internal id of the user whose primary calendar holds the copy. */
  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'string' })
  uid!: string;

  /** The primary calendar written to (absolute URL). */
  @Property({ type: 'text', nullable: true })
  calendarHref: string | null = null;

  @Property({ type: 'text', nullable: true })
  href: string | null = null;

  @Property({ type: 'text', nullable: true })
  etag: string | null = null;

  @Property({ type: 'string', nullable: true })
  contentHash: string | null = null;

  /**
   * Hashes of versions sent but not confirmed (the answer was lost), written ahead of each PUT: when a later
   * PUT meets a 412 and iCloud holds one of them, that is our own write, not somebody's edit.
   */
  @Property({ type: 'json', defaultRaw: `'[]'` })
  unconfirmed: string[] = [];

  /**
   * When the CRM last changed the version iCloud holds (the LAST-MODIFIED we wrote, or the appointment's time
   * once it took an iCloud edit). A CRM change back to that very content after it (moved there and back) is
   * still a change: it is written, so that an iPhone edit made meanwhile meets the later-change rule.
   */
  @Property({ type: DateTimeType, nullable: true })
  crmModifiedAt: Date | null = null;

  @Enum({ items: () => SyncState, type: 'string' })
  state: SyncState = SyncState.PENDING;

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  @Property({ type: DateTimeType, onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
