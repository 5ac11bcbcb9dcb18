import { randomUUID } from 'node:crypto';
import { OptionalProps, Cascade, Collection, Entity, Enum, Index, ManyToOne, OneToMany, PrimaryKey, Property, DateTimeType } from '@mikro-orm/core';
import { Contact } from './contact.entity';
import { CrmCalendar } from './crm-calendar.entity';

export enum AppointmentStatus {
  BOOKED = 'BOOKED',
  CANCELLED = 'CANCELLED',
}

/** A booking in a CRM calendar. A class booking is one seat of a class session. */
@Entity()
@Index({ properties: ['calendar', 'startsAt'] })
export class Appointment {
  [OptionalProps]?: 'id' | 'notes' | 'location' | 'status' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'string', index: true })
  tenantId!: string;

  @ManyToOne(() => CrmCalendar)
  calendar!: CrmCalendar;

  @ManyToOne(() => Contact)
  contact!: Contact;

  @Property({ type: DateTimeType })
  startsAt!: Date;

  @Property({ type: DateTimeType })
  endsAt!: Date;

  @Property({ type: 'string' })
  title!: string;

  @Property({ type: 'text', nullable: true })
  notes: string | null = null;

  @Property({ type: 'text', nullable: true })
  location: string | null = null;

  @Enum({ items: () => AppointmentStatus, type: 'string' })
  status: AppointmentStatus = AppointmentStatus.BOOKED;

  @OneToMany(() => AppointmentAssignee, (a) => a.appointment, { cascade: [Cascade.ALL], orphanRemoval: true })
  assignees = new Collection<AppointmentAssignee>(this);

  @Property({ type: DateTimeType })
  createdAt: Date = new Date();

  /** When the CRM side last changed: compared with iCloud's LAST-MODIFIED when both sides changed. */
  @Property({ type: DateTimeType })
  updatedAt: Date = new Date();
}

/**
 * A user an appointment is assigned to, with the time it blocks for them (the appointment plus its
 * calendar's buffers), denormalised so that availability reads one indexed range per user (blocks ending after
 * the window starts).
 */
@Entity()
// By end: what blocks a time from now on is found without reading the user's past (a range on the start read
// every assignment from the first one up to the window's end).
@Index({ properties: ['userId', 'blockEnd'] })
export class AppointmentAssignee {
  [OptionalProps]?: 'id' | 'active';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Appointment, { deleteRule: 'cascade' })
  appointment!: Appointment;

  /** Internal user id. */
  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: DateTimeType })
  blockStart!: Date;

  @Property({ type: DateTimeType })
  blockEnd!: Date;

  /** False once the appointment is cancelled: it blocks nothing. */
  @Property({ type: 'boolean' })
  active: boolean = true;
}
