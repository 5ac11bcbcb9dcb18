import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createMemoryCalDav, type MemoryAccount, type MemoryCalDav } from '../../dev/memory-caldav';
import type { Principal } from '../../src/auth/jwt';
import { loadConfig } from '../../src/config';
import { Appointment, AppointmentAssignee } from '../../src/entities/appointment.entity';
import { BusyInterval } from '../../src/entities/busy-interval.entity';
import { CalendarIntegration, IntegrationStatus } from '../../src/entities/calendar-integration.entity';
import { ConflictWarning } from '../../src/entities/conflict-warning.entity';
import { Contact } from '../../src/entities/contact.entity';
import { ExternalCalendar } from '../../src/entities/external-calendar.entity';
import { ExternalEvent } from '../../src/entities/external-event.entity';
import { OutboxEntry } from '../../src/entities/outbox-entry.entity';
import { AppointmentSyncLink } from '../../src/entities/sync-link.entity';
import { createLogger } from '../../src/logger';
import { initORM, type Orm } from '../../src/orm';
import { createEventBus } from '../../src/pubsub';
import { createServices, type Services } from '../../src/services';

/**
 * The real services (planners, executors, outbox, sync) on a SQLite file, with an in-memory CalDAV server
 * behind the injected client factory: what the property tests drive. Nothing runs on its own: the
 * outbox's `kick` (the push right after a booking commits) is turned off, so that the test decides when
 * pushes happen (its `drain` commands call the real `outbox.drain()`), and a seed replays exactly.
 */
export interface MemoryWorld {
  orm: Orm;
  services: Services;
  memory: MemoryCalDav;
  /** Log lines at level error: the services log a failure that is not a CalDAV one ("failed unexpectedly"). */
  errors: string[];
  close(): Promise<void>;
}

export async function startMemoryWorld(): Promise<MemoryWorld> {
  // On tmpfs when there is one: SQLite's syncs on every commit are then free.
  const dir = mkdtempSync(join(process.env.MEMORY_WORLD_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()), 'crm-memory-'));
  const databaseUrl = join(dir, 'crm.sqlite');
  const memory = createMemoryCalDav({ seed: 1 });
  const config = loadConfig({
    ICLOUD_CALDAV_URL: memory.url,
    DATA_DIR: dir,
    DATABASE_URL: databaseUrl,
    AUTH_JWT_SECRET: randomBytes(16).toString('hex'),
    CREDENTIALS_KEY: randomBytes(32).toString('base64'),
    SYNC_CRON: '',
    SYNC_NOW_MIN_INTERVAL_SECONDS: '0',
    CALDAV_TIMEOUT_MS: '5000',
  });
  const errors: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      errors.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const orm = await initORM(databaseUrl);
  const events = createEventBus();
  const services = createServices(config, orm, events, createLogger(sink, 'error'), { transport: memory.transport });
  // Pushes happen when the test drains the outbox, not in the background after each commit.
  services.outbox.kick = () => undefined;
  return {
    orm,
    services,
    memory,
    errors,
    close: async () => {
      await services.ical.close();
      await events.close();
      await orm.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A CRM user with a connected account: "Work" is the primary calendar, "US Holidays" (read-only) is checked for conflicts too. */
export interface MemoryUser {
  sub: string;
  principal: Principal;
  account: MemoryAccount;
  /** Internal user id. */
  userId: string;
  integrationId: string;
  /** Absolute URLs of the account's calendars by slug. */
  urls: { work: string; home: string; holidays: string };
}

/** Connects a new account for `sub` as `connectICloud`, `setPrimaryCalendar` and `setConflictCalendars` do over GraphQL. */
export async function connectUser(world: MemoryWorld, tenantId: string, sub: string): Promise<MemoryUser> {
  const account = world.memory.addAccount();
  const principal: Principal = { sub, tenantId, role: 'user' };
  const em = world.orm.fork();
  const integration = await world.services.integrations.connectICloud(em, principal, { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword });
  const urls = { work: account.calendarUrl('work'), home: account.calendarUrl('home'), holidays: account.calendarUrl('holidays') };
  const byUrl = (url: string) => integration.calendars.getItems().find((c) => c.href === url)!;
  await world.services.integrations.setPrimaryCalendar(em, principal, byUrl(urls.work).id);
  await world.services.integrations.setConflictCalendars(em, principal, [byUrl(urls.holidays).id]);
  return { sub, principal, account, userId: integration.user.id, integrationId: integration.id, urls };
}

/**
 * Starts a test run from a clean slate with the same connected users (connecting accounts anew for each of
 * hundreds of runs would cost more than the runs): the server's calendars emptied (sync tokens handed out
 * before unknown), and the tables the sync and the CRM fill emptied, cursors and integration status reset.
 */
export async function cleanSlate(world: MemoryWorld, users: MemoryUser[]): Promise<void> {
  const em = world.orm.fork();
  for (const entity of [BusyInterval, ExternalEvent, OutboxEntry, AppointmentSyncLink, ConflictWarning, AppointmentAssignee, Appointment, Contact]) await em.nativeDelete(entity as typeof Contact, {});
  await em.nativeUpdate(ExternalCalendar, {}, { syncToken: null, ctag: null, lastFullSyncAt: null, emptyListingSince: null });
  await em.nativeUpdate(CalendarIntegration, {}, { status: IntegrationStatus.CONNECTED, statusMessage: null, failureCount: 0, nextSyncAt: null });
  for (const u of users) world.memory.resetAccount(u.account.appleId);
  world.memory.clearFaults();
  world.errors.length = 0;
}

/** Makes every outbox entry of `userIds` due now (their backoff has passed) and drains the outbox. */
export async function drainNow(world: MemoryWorld, userIds: string[], due = true): Promise<void> {
  if (due) await world.orm.fork().nativeUpdate(OutboxEntry, { userId: { $in: userIds } }, { nextAttemptAt: new Date(Date.now() - 1000) });
  await world.services.outbox.drain();
}

/** The busy rows of a user in the local index, as sorted `start/end title` lines. */
export async function busyRows(world: MemoryWorld, userId: string): Promise<string[]> {
  const rows = await world.orm.fork().find(BusyInterval, { userId });
  return rows.map((b) => `${b.startsAt.toISOString()}/${b.endsAt.toISOString()} ${b.title}`).sort();
}

// ---------------------------------------------------------------------------------------------------------
// Time: Date only is faked, so that "the later change wins" is decided by the order of the test's steps
// (LAST-MODIFIED has whole seconds; each step is a second later). Timers stay real.
// ---------------------------------------------------------------------------------------------------------

export const clock = {
  /** Fakes Date only, starting at the current whole second. */
  install(): void {
    jest.useFakeTimers({
      doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame', 'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
      now: Math.floor(Date.now() / 1000) * 1000,
    });
  },
  uninstall(): void {
    jest.useRealTimers();
  },
  /** Moves the clock `seconds` ahead. */
  tick(seconds = 1): void {
    jest.setSystemTime(Date.now() + seconds * 1000);
  },
};

// ---------------------------------------------------------------------------------------------------------
// iCalendar as the phone writes it
// ---------------------------------------------------------------------------------------------------------

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
const dateOnly = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, '');

/** A timed event as an iPhone writes it (UTC, LAST-MODIFIED now), with `extra` lines (RRULE...). */
export function phoneEvent(uid: string, start: Date, end: Date, summary: string, extra: string[] = []): string {
  const now = stamp(new Date());
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Apple Inc.//iOS 18.1//EN', 'BEGIN:VEVENT', `UID:${uid}`, `DTSTAMP:${now}`, `CREATED:${now}`, `LAST-MODIFIED:${now}`, `DTSTART:${stamp(start)}`, `DTEND:${stamp(end)}`, `SUMMARY:${summary}`, ...extra, 'SEQUENCE:0', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
}

/** An all-day event (a holiday of a subscribed calendar): `day` is a UTC midnight. */
export function allDayEvent(uid: string, day: Date, summary: string): string {
  const next = new Date(day.getTime() + 86400000);
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Apple Inc.//Holidays//EN', 'BEGIN:VEVENT', `UID:${uid}`, `DTSTAMP:${stamp(new Date())}`, `DTSTART;VALUE=DATE:${dateOnly(day)}`, `DTEND;VALUE=DATE:${dateOnly(next)}`, `SUMMARY:${summary}`, 'TRANSP:OPAQUE', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
}

/** The event moved to [start, end) as the iPhone saves an edit: times replaced, DTSTAMP and LAST-MODIFIED now, SEQUENCE up, the rest kept. */
export function movedEvent(ics: string, start: Date, end: Date): string {
  const now = stamp(new Date());
  const lines = ics.replace(/\r?\n[ \t]/g, '').split(/\r?\n/);
  const out: string[] = [];
  let inEvent = false;
  for (const line of lines) {
    if (line === 'BEGIN:VEVENT') inEvent = true;
    if (line === 'END:VEVENT') {
      out.push(`LAST-MODIFIED:${now}`);
      inEvent = false;
    }
    if (inEvent && /^(DTSTART|DTEND|DTSTAMP|LAST-MODIFIED|SEQUENCE)[;:]/.test(line)) {
      if (line.startsWith('DTSTART')) out.push(`DTSTART:${stamp(start)}`);
      if (line.startsWith('DTEND')) out.push(`DTEND:${stamp(end)}`);
      if (line.startsWith('DTSTAMP')) out.push(`DTSTAMP:${now}`);
      if (line.startsWith('SEQUENCE')) out.push(`SEQUENCE:${Number(line.split(':')[1]) + 1}`);
      continue;
    }
    out.push(line);
  }
  return out.join('\r\n');
}

/** DTSTART, DTEND (UTC, timed events) and SUMMARY of the first VEVENT of an object. */
export function timesOf(ics: string): { start: Date | null; end: Date | null; summary: string | null; uid: string | null } {
  const text = ics.replace(/\r?\n[ \t]/g, '');
  const value = (name: string) => new RegExp(`^${name}(?:;[^:\\r\\n]*)?:([^\\r\\n]*)`, 'm').exec(text)?.[1] ?? null;
  const time = (v: string | null) => (v && /^\d{8}T\d{6}Z$/.test(v) ? new Date(`${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}T${v.slice(9, 11)}:${v.slice(11, 13)}:${v.slice(13, 15)}Z`) : null);
  const summary = value('SUMMARY');
  return { start: time(value('DTSTART')), end: time(value('DTEND')), summary: summary && summary.replace(/\\([,;\\])/g, '$1'), uid: value('UID') };
}

// ---------------------------------------------------------------------------------------------------------
// What a property run covered and what it cost (printed with PROPERTY_STATS=1)
// ---------------------------------------------------------------------------------------------------------

/** Counts of interesting things seen over all runs, and CPU time (this process, worker threads included) by kind of step. */
export function propertyStats() {
  const seen: Record<string, number> = {};
  const cpuBy: Record<string, number> = {};
  let mark = process.cpuUsage();
  const start = { cpu: process.cpuUsage(), wall: Date.now() };
  return {
    saw(what: string, count = 1): void {
      seen[what] = (seen[what] ?? 0) + count;
    },
    /** Charges the CPU time since the last call to `what`. */
    charge(what: string): void {
      const used = process.cpuUsage(mark);
      cpuBy[what] = (cpuBy[what] ?? 0) + (used.user + used.system) / 1000;
      mark = process.cpuUsage();
    },
    print(injected: Record<string, number>): void {
      if (!process.env.PROPERTY_STATS) return;
      const used = process.cpuUsage(start.cpu);
      const round = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
      console.log({ seen, faults: injected, cpuMsBy: round(cpuBy), cpuMs: Math.round((used.user + used.system) / 1000) });
    },
  };
}
