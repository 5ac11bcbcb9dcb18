import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, Index, ManyToOne, PrimaryKey, Property, DateTimeType } from '@mikro-orm/core';
import type { ExternalCalendar } from './external-calendar.entity';
import type { ExternalEvent } from './external-event.entity';

/**
 * Busy time of an iCloud event, one row per occurrence inside the sync horizon, in UTC. Availability
 * reads only these rows and appointments: never iCloud.
 */
@Entity()
@Index({ properties: ['userId', 'startsAt'] })
export class BusyInterval {
  [OptionalProps]?: 'id' | 'title';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** The owning user's internal id (denormalised: availability queries by user and time only). */
  @Property({ type: 'uuid' })
  userId!: string;

  @ManyToOne('ExternalCalendar', { deleteRule: 'cascade' })
  calendar!: ExternalCalendar;

  @ManyToOne('ExternalEvent', { deleteRule: 'cascade' })
  event!: ExternalEvent;

  @Property({ type: DateTimeType })
  startsAt!: Date;

  @Property({ type: DateTimeType })
  endsAt!: Date;

  /** Shown to the owner only. */
  @Property({ type: 'text', nullable: true })
  title: string | null = null;
}
