import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, Enum, ManyToOne, PrimaryKey, Property, Unique, DateTimeType } from '@mikro-orm/core';
import type { ExternalCalendar } from './external-calendar.entity';

export enum EventOrigin {
  /** Its UID is one of ours: a copy of a CRM appointment. */
  CRM = 'CRM',
  /** Created in iCloud (or another client): it only blocks time. */
  ICLOUD = 'ICLOUD',
}

/** One calendar object as last seen in iCloud: the sync status row of that href (vdirsyncer's status). */
@Entity()
@Unique({ properties: ['calendar', 'href'] })
export class ExternalEvent {
  [OptionalProps]?: 'id' | 'summary' | 'origin' | 'lastModified' | 'unreadable' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne('ExternalCalendar', { deleteRule: 'cascade' })
  calendar!: ExternalCalendar;

  /** Absolute URL: Apple names resources randomly, so events are found by href, never by UID. */
  @Property({ type: 'text' })
  href!: string;

  @Property({ type: 'text' })
  etag!: string;

  @Property({ type: 'text' })
  uid!: string;

  /** Hash of the normalised content: a changed etag with the same hash is no change (our own write, a reformat). */
  @Property({ type: 'string' })
  contentHash!: string;

  @Property({ type: 'text', nullable: true })
  summary: string | null = null;

  @Property({ type: 'text', lazy: true })
  raw!: string;

  @Enum({ items: () => EventOrigin, type: 'string' })
  origin: EventOrigin = EventOrigin.ICLOUD;

  @Property({ type: DateTimeType, nullable: true })
  lastModified: Date | null = null;

  /**
   * Why this version (this etag) could not be read; null when it was. Kept so that it is not fetched again
   * until it changes, and so that the integration's status names it until then.
   */
  @Property({ type: 'text', nullable: true })
  unreadable: string | null = null;

  @Property({ type: DateTimeType, onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
