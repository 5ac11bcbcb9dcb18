import { LockMode, type EntityManager } from '@mikro-orm/core';
import type { Principal } from '../auth/jwt';
import type { SlotAvailability } from '../availability/availability.engine';
import type { CalendarRules } from '../availability/calendar-rules';
import { candidateSlots } from '../availability/slots';
import { Appointment, AppointmentAssignee, AppointmentStatus } from '../entities/appointment.entity';
import { Contact } from '../entities/contact.entity';
import { CrmCalendar, CrmCalendarType } from '../entities/crm-calendar.entity';
import { OutboxEntry } from '../entities/outbox-entry.entity';
import { AppointmentSyncLink } from '../entities/sync-link.entity';
import { linkState } from '../sync/outbound/sync-link-state';
import { User } from '../entities/user.entity';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { uidFor } from '../sync/ical/event-renderer';
import type { AvailabilityService } from './availability.service';
import { appointmentFacts, appointmentViews, type AppointmentFacts, type AppointmentView } from './appointment-facts';
import { syncKeyOf } from '../sync/sync-key';
import type { CrmCalendarService } from './crm-calendar.service';
import type { KeyedMutex } from './keyed-mutex';
import { findBy, findOneBy, populateBy } from './plain-rows';
import { checkRange } from './range';
import type { UserService } from './user.service';

export interface BookingInput {
  calendarId: string;
  startsAt: Date;
  contact: { name: string; email?: string | null; phone?: string | null };
  title?: string | null;
  notes?: string | null;
}

export interface BookingServiceDeps {
  calendars: CrmCalendarService;
  users: UserService;
  availability: AvailabilityService;
  mutex: KeyedMutex;
  /** PostgreSQL: lock the members' rows, so that bookings in other processes wait too. */
  rowLocks: boolean;
  /**
   * Called after each commit with the users (internal ids) whose appointments changed: their cached
   * availability is dropped (`BUSY_CHANGED`) and the outbox entries written are pushed to iCloud now.
   */
  afterCommit(userIds: string[]): void;
  /** Each booking change leaves one info line (ids and times only: never the contact's details). */
  logger: Logger;
}

const MINUTE = 60000;

/**
 * Books, reschedules and cancels appointments. The slot is checked again inside a transaction while the
 * calendar's members are locked: of two people booking the last seat or the same member at once, one
 * succeeds and one gets `SLOT_TAKEN`. Every change writes outbox entries in the same transaction.
 */
export class BookingService {
  constructor(private readonly deps: BookingServiceDeps) {}

  /** Books a slot. Throws `SLOT_IN_PAST`, `TOO_SOON`, `TOO_FAR_AHEAD`, `OUTSIDE_OPEN_HOURS`, `SLOT_TAKEN`, `NOT_FOUND`, `FORBIDDEN`. */
  async book(em: EntityManager, principal: Principal, input: BookingInput): Promise<Appointment> {
    // The rules as plain rows and the calendar's own row: its members are not loaded as entities, for every
    // managed entity makes the transaction's flush longer (each is compared with its snapshot).
    const rules = await this.deps.calendars.rules(em, principal, input.calendarId, 'book');
    const [calendar] = await findBy(em, CrmCalendar, { id: rules.id });
    if (!calendar) throw new AppError('NOT_FOUND', `No calendar ${rules.id}.`);
    const start = input.startsAt;
    checkSlot(calendar, start, new Date());
    if (!input.contact.name.trim()) throw new AppError('BAD_USER_INPUT', 'contact.name must not be empty.');
    const appointment = await this.locked(em, rules.members.map((m) => m.userId), async (tx) => {
      const slot = await this.freeSlot(tx, rules, start);
      const contact = tx.create(Contact, { tenantId: calendar.tenantId, name: input.contact.name.trim(), email: input.contact.email ?? null, phone: input.contact.phone ?? null });
      const created = tx.create(Appointment, {
        tenantId: calendar.tenantId,
        calendar,
        contact,
        startsAt: slot.start,
        endsAt: slot.end,
        title: input.title?.trim() || `${calendar.name}: ${contact.name}`,
        notes: input.notes ?? null,
      });
      assign(tx, created, calendar, slot.assignTo);
      await enqueue(tx, [...keysFor(created, slot.assignTo)]);
      return created;
    });
    this.logChange('appointment booked', principal, appointment);
    this.deps.afterCommit(assignees(appointment));
    return appointment;
  }

  /** Moves an appointment to another slot of its calendar, keeping its assignees when they are free. */
  async reschedule(em: EntityManager, principal: Principal, id: string, startsAt: Date): Promise<Appointment> {
    const { appointment, rules } = await this.loadWithRules(em, principal, id, 'book');
    if (appointment.status === AppointmentStatus.CANCELLED) throw new AppError('APPOINTMENT_CANCELLED', 'This appointment is cancelled: book a new one instead.');
    // To the time it has: no change, so nothing is pushed and an iPhone move not yet synced still stands (a
    // touch here made the CRM the "later change" and undid that move: found by the two-way property test).
    if (startsAt.getTime() === appointment.startsAt.getTime()) return appointment;
    const calendar = appointment.calendar;
    checkSlot(calendar, startsAt, new Date());
    const before = keysFor(appointment, assignees(appointment));
    const previousStart = appointment.startsAt;
    await this.locked(em, rules.members.map((m) => m.userId), async (tx) => {
      const slot = await this.freeSlot(tx, rules, startsAt, appointment.id);
      const current = assignees(appointment);
      const keep = calendar.type !== CrmCalendarType.COLLECTIVE && current.every((u) => slot.availableUserIds.includes(u));
      const users = keep ? current : slot.assignTo;
      Object.assign(appointment, { startsAt: slot.start, endsAt: slot.end, updatedAt: new Date() });
      assign(tx, appointment, calendar, users);
      await enqueue(tx, [...before, ...keysFor(appointment, users)]);
    });
    this.logChange('appointment rescheduled', principal, appointment, { previousStartsAt: previousStart.toISOString() });
    this.deps.afterCommit([...new Set([...before.map((k) => k.userId), ...assignees(appointment)])]);
    return appointment;
  }

  /** Cancels an appointment; its iCloud copies are removed (a class session is updated while seats remain). */
  async cancel(em: EntityManager, principal: Principal, id: string): Promise<Appointment> {
    const appointment = await this.load(em, principal, id);
    if (appointment.status === AppointmentStatus.CANCELLED) throw new AppError('APPOINTMENT_CANCELLED', 'This appointment is already cancelled.');
    await em.transactional(async (tx) => {
      Object.assign(appointment, { status: AppointmentStatus.CANCELLED, updatedAt: new Date() });
      for (const a of appointment.assignees) a.active = false;
      await enqueue(tx, [...keysFor(appointment, assignees(appointment))]);
    });
    this.logChange('appointment cancelled', principal, appointment);
    this.deps.afterCommit(assignees(appointment));
    return appointment;
  }

  /** Writes the iCloud copies of an appointment that the user deleted in iCloud again (DELETED_IN_ICLOUD -> PENDING). */
  async restoreInICloud(em: EntityManager, principal: Principal, id: string): Promise<Appointment> {
    const appointment = await this.load(em, principal, id);
    if (appointment.status === AppointmentStatus.CANCELLED) throw new AppError('APPOINTMENT_CANCELLED', 'This appointment is cancelled: there is nothing to push back.');
    await em.transactional(async (tx) => {
      const pairs = keysFor(appointment, assignees(appointment));
      for (const link of await tx.find(AppointmentSyncLink, { $or: pairs })) {
        linkState.restored(link);
      }
      await enqueue(tx, pairs);
    });
    this.logChange('appointment restored in iCloud', principal, appointment);
    this.deps.afterCommit([]);
    return appointment;
  }

  /** One appointment of a calendar the caller may book on. Throws `NOT_FOUND` otherwise. */
  async load(em: EntityManager, principal: Principal, id: string, purpose: 'read' | 'book' = 'book'): Promise<Appointment> {
    return (await this.loadWithRules(em, principal, id, purpose)).appointment;
  }

  /**
   * The appointment with its calendar, contact and assignees, and the calendar's rules (members as plain rows):
   * six short plain-row reads where a populated em.findOne and the calendar's entity graph cost several ms.
   */
  private async loadWithRules(em: EntityManager, principal: Principal, id: string, purpose: 'read' | 'book'): Promise<{ appointment: Appointment; rules: CalendarRules }> {
    const appointment = await findOneBy(em, Appointment, { id, tenantId: principal.tenantId });
    const notFound = new AppError('NOT_FOUND', `No appointment ${id}.`);
    if (!appointment) throw notFound;
    // The same answer as for an id that does not exist: an error must not tell that someone else's appointment does.
    const rules = await this.deps.calendars.rules(em, principal, appointment.calendar.id, purpose).catch((e) => {
      throw e instanceof AppError && e.code === 'NOT_FOUND' ? notFound : e;
    });
    await Promise.all([findBy(em, CrmCalendar, { id: appointment.calendar.id }), findBy(em, Contact, { id: appointment.contact.id })]);
    await populateBy(em, [appointment], 'assignees', AppointmentAssignee, 'appointment');
    return { appointment, rules };
  }

  /**
   * Appointments assigned to a user (the caller, or a user a tenant admin or support names) overlapping
   * [from, to), at most 93 days, by start, as the API shows them (read as plain rows). Throws `BAD_USER_INPUT`
   * for a bad range, `NOT_FOUND` for a user the caller may not see.
   */
  async list(em: EntityManager, principal: Principal, from: Date, to: Date, userId?: string | null): Promise<AppointmentView[]> {
    checkRange(from, to, 93);
    const subject = await this.deps.users.resolveSubject(em, principal, userId);
    return appointmentViews(em, subject.tenantId, subject.id, from, to);
  }

  /** The facts of `appointments`, in order: assignees as CRM user ids, and the worst sync state of their copies (two queries). */
  facts(em: EntityManager, appointments: Appointment[]): Promise<AppointmentFacts[]> {
    return appointmentFacts(em, appointments.map((a) => ({ id: a.id, startsAt: a.startsAt, calendar: a.calendar, assigneeIds: a.assignees.getItems().map((x) => x.userId) })));
  }

  /**
   * One info line per committed change, for support and audits: ids, tenant, the CRM user who made it and
   * the start. Never the contact's name, email or phone, nor the title or notes (they may carry them).
   */
  private logChange(what: string, principal: Principal, appointment: Appointment, extra: Record<string, unknown> = {}): void {
    this.deps.logger.info(
      { appointmentId: appointment.id, calendarId: appointment.calendar.id, tenantId: appointment.tenantId, userId: principal.sub, startsAt: appointment.startsAt.toISOString(), ...extra },
      what,
    );
  }

  /** Runs `work` in a transaction while the calendar's members (`userIds`) are locked (in process, and by row on PostgreSQL). */
  private async locked<T>(em: EntityManager, userIds: string[], work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.deps.mutex.run(userIds, () =>
      em.transactional(async (tx) => {
        if (this.deps.rowLocks) await tx.find(User, { id: { $in: userIds } }, { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { id: 'asc' } });
        return work(tx);
      }),
    );
  }

  private async freeSlot(tx: EntityManager, rules: CalendarRules, start: Date, ignoreAppointmentId?: string): Promise<SlotAvailability> {
    const [slot] = await this.deps.availability.slotsOf(tx, rules, start, new Date(start.getTime() + 1), new Date(), ignoreAppointmentId);
    if (!slot || slot.assignTo.length === 0) {
      throw new AppError('SLOT_TAKEN', 'This time was just taken (or its host became busy): pick another slot.');
    }
    return slot;
  }
}

/** Checks that `start` is a bookable slot start of the calendar, saying what is wrong otherwise. */
function checkSlot(calendar: CrmCalendar, start: Date, now: Date): void {
  if (Number.isNaN(start.getTime())) throw new AppError('BAD_USER_INPUT', 'startsAt is not a valid time.');
  if (start <= now) throw new AppError('SLOT_IN_PAST', 'This time is in the past: pick a future slot.');
  if (start.getTime() < now.getTime() + calendar.minNoticeMinutes * MINUTE) {
    throw new AppError('TOO_SOON', `This calendar needs ${calendar.minNoticeMinutes} minutes' notice: pick a later slot.`);
  }
  if (start.getTime() > now.getTime() + calendar.bookingWindowDays * 86400000) {
    throw new AppError('TOO_FAR_AHEAD', `This calendar takes bookings up to ${calendar.bookingWindowDays} days ahead.`);
  }
  if (!candidateSlots(calendar, start, new Date(start.getTime() + 1)).length) {
    throw new AppError('OUTSIDE_OPEN_HOURS', `This time is not a slot of "${calendar.name}" (outside its open hours or off its ${calendar.slotIntervalMinutes}-minute grid).`);
  }
}

function assignees(appointment: Appointment): string[] {
  return appointment.assignees.getItems().map((a) => a.userId);
}

/** Makes `userIds` the appointment's assignees, each blocked for its time plus the calendar's buffers. */
function assign(tx: EntityManager, appointment: Appointment, calendar: CrmCalendar, userIds: string[]): void {
  const blockStart = new Date(appointment.startsAt.getTime() - calendar.bufferBeforeMinutes * MINUTE);
  const blockEnd = new Date(appointment.endsAt.getTime() + calendar.bufferAfterMinutes * MINUTE);
  for (const existing of appointment.assignees.getItems()) {
    if (userIds.includes(existing.userId)) Object.assign(existing, { blockStart, blockEnd });
    else {
      appointment.assignees.remove(existing);
      tx.remove(existing);
    }
  }
  const kept = new Set(appointment.assignees.getItems().map((a) => a.userId));
  for (const userId of userIds.filter((u) => !kept.has(u))) appointment.assignees.add(tx.create(AppointmentAssignee, { appointment, userId, blockStart, blockEnd }));
}

/** The (sync key, user) pairs whose iCloud copies an appointment touches. */
function keysFor(appointment: Appointment, userIds: string[]): { syncKey: string; userId: string }[] {
  const syncKey = syncKeyOf(appointment);
  return userIds.map((userId) => ({ syncKey, userId }));
}

/** Writes outbox entries and creates the sync links they will fill, in the caller's transaction. */
async function enqueue(tx: EntityManager, pairs: { syncKey: string; userId: string }[]): Promise<void> {
  const unique = new Map(pairs.map((p) => [`${p.syncKey}|${p.userId}`, p]));
  for (const { syncKey, userId } of unique.values()) {
    tx.create(OutboxEntry, { syncKey, userId });
    const link = await findOneBy(tx, AppointmentSyncLink, { syncKey, userId });
    if (!link) tx.create(AppointmentSyncLink, { syncKey, userId, uid: uidFor(syncKey, userId) });
  }
}
