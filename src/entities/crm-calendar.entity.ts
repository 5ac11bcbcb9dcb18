import { randomUUID } from 'node:crypto';
import { OptionalProps, Cascade, Collection, Entity, Enum, ManyToOne, OneToMany, PrimaryKey, Property, DateTimeType } from '@mikro-orm/core';
import { User } from './user.entity';

export enum CrmCalendarType {
  CLASS_BOOKING = 'CLASS_BOOKING',
  ROUND_ROBIN = 'ROUND_ROBIN',
  COLLECTIVE = 'COLLECTIVE',
  SERVICE = 'SERVICE',
}

export enum RoundRobinMode {
  OPTIMIZE_FOR_AVAILABILITY = 'OPTIMIZE_FOR_AVAILABILITY',
  EQUAL_DISTRIBUTION = 'EQUAL_DISTRIBUTION',
}

export enum MemberPriority {
  HIGH = 'HIGH',
  MEDIUM = 'MEDIUM',
  LOW = 'LOW',
}

/** Open hours of one weekday (1 = Monday .. 7 = Sunday), wall-clock "HH:MM" in the calendar's zone. */
export interface OpenHours {
  weekday: number;
  start: string;
  end: string;
}

/** A calendar people book through in the CRM. */
@Entity()
export class CrmCalendar {
  [OptionalProps]?: 'id' | 'createdAt' | 'bufferBeforeMinutes' | 'bufferAfterMinutes' | 'seatsPerSlot' | 'roundRobinMode' | 'minNoticeMinutes' | 'bookingWindowDays';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'string', index: true })
  tenantId!: string;

  @Property({ type: 'string' })
  name!: string;

  @Enum({ items: () => CrmCalendarType, type: 'string' })
  type!: CrmCalendarType;

  /** IANA zone the open hours are in. */
  @Property({ type: 'string' })
  timezone!: string;

  @Property({ type: 'integer' })
  slotDurationMinutes!: number;

  @Property({ type: 'integer' })
  slotIntervalMinutes!: number;

  @Property({ type: 'integer' })
  bufferBeforeMinutes: number = 0;

  @Property({ type: 'integer' })
  bufferAfterMinutes: number = 0;

  @Property({ type: 'integer' })
  seatsPerSlot: number = 1;

  @Enum({ items: () => RoundRobinMode, type: 'string' })
  roundRobinMode: RoundRobinMode = RoundRobinMode.OPTIMIZE_FOR_AVAILABILITY;

  @Property({ type: 'integer' })
  minNoticeMinutes: number = 0;

  @Property({ type: 'integer' })
  bookingWindowDays: number = 60;

  @Property({ type: 'json' })
  openHours!: OpenHours[];

  @OneToMany(() => CrmCalendarMember, (m) => m.calendar, { cascade: [Cascade.ALL], orphanRemoval: true })
  members = new Collection<CrmCalendarMember>(this);

  @Property({ type: DateTimeType })
  createdAt: Date = new Date();
}

/** A team member of a CRM calendar: the host of a class, a round-robin member, a collective member, staff of a service. */
@Entity()
export class CrmCalendarMember {
  [OptionalProps]?: 'id' | 'priority' | 'isPrimary';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => CrmCalendar, { deleteRule: 'cascade' })
  calendar!: CrmCalendar;

  @ManyToOne(() => User)
  user!: User;

  @Enum({ items: () => MemberPriority, type: 'string' })
  priority: MemberPriority = MemberPriority.MEDIUM;

  @Property({ type: 'boolean' })
  isPrimary: boolean = false;
}
