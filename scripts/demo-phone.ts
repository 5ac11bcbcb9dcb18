import ICAL from 'ical.js';
import { randomUUID } from 'node:crypto';
import { tzlib_get_ical_block } from 'timezones-ical-library';
import type { CalDavTarget, TargetAccount } from '../dev/caldav-targets';
import { Phone } from '../dev/phone';
import { registerTimezones } from '../src/sync/ical/timezones';

/**
 * `npm run demo:phone -- <command>`: the demo user's iPhone, a CalDAV client of the account `npm run demo:caldav`
 * serves (it finds the calendars as a phone does: principal, then calendar home). Commands:
 *
 *   list                                  every event of the account's calendars
 *   add TITLE START [MINUTES] [CALENDAR]  a new event (default 60 minutes, in "Work")
 *   move EVENT START                      moves an event, keeping its length (a CRM appointment: the CRM follows)
 *   delete EVENT                          deletes an event
 *
 * START is an instant (2026-12-07T08:00:00Z, or with an offset) or a wall-clock time in Europe/Berlin, the example
 * calendar's zone (2026-12-07T09:00). EVENT is a CRM appointment id, a UID, or part of a title. `move` and `delete`
 * wait up to 20 s for the event to reach the phone (a CRM appointment is pushed a moment after it is booked).
 * DEMO_PORT names the demo's port when it is not 8008.
 *
 * Also the demo's helpers: the fixed demo account and the events it seeds.
 */

export const DEMO_APPLE_ID = 'demo@icloud.example';
export const DEMO_PASSWORD = 'abcd-efgh-ijkl-mnop';
export const DEMO_DEFAULT_PORT = 8008;
/** The zone of the walkthrough's calendar: the demo's wall-clock times are in it. */
export const DEMO_ZONE = 'Europe/Berlin';

export function demoPort(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.DEMO_PORT || String(DEMO_DEFAULT_PORT);
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`DEMO_PORT must be a port number, got "${value}"`);
  return port;
}

/** The first Monday after today (UTC date), as YYYY-MM-DD: the README computes the same day. */
export function nextMonday(now = new Date()): string {
  const d = new Date(now);
  d.setUTCDate(d.getUTCDate() + ((8 - d.getUTCDay()) % 7 || 7));
  return d.toISOString().slice(0, 10);
}

/** Offset of `zone` from UTC at `instant`, in ms. */
function offsetMs(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    .formatToParts(new Date(instant))
    .reduce<Record<string, number>>((acc, p) => (p.type === 'literal' ? acc : { ...acc, [p.type]: Number(p.value) }), {});
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - Math.floor(instant / 1000) * 1000;
}

/** The instant of a wall-clock time "YYYY-MM-DDTHH:MM" in `zone`. */
export function wallTime(local: string, zone = DEMO_ZONE): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local);
  if (!m) throw new Error(`"${local}" is not a time: write 2026-12-07T09:00 (${zone}) or an instant such as 2026-12-07T08:00:00Z`);
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
  let utc = wall - offsetMs(wall, zone);
  utc = wall - offsetMs(utc, zone);
  return new Date(utc);
}

/** An instant (with Z or an offset) or a wall-clock time in the demo's zone. */
export function parseWhen(value: string): Date {
  if (/(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) throw new Error(`"${value}" is not a time`);
    return d;
  }
  return wallTime(value);
}

/** "2026-12-07 09:00" in `zone`. */
export function localText(date: Date, zone = DEMO_ZONE): string {
  const shifted = new Date(date.getTime() + offsetMs(date.getTime(), zone));
  return shifted.toISOString().slice(0, 16).replace('T', ' ');
}

/** An event as the iPhone writes it: wall-clock times with their VTIMEZONE. */
export function phoneEvent(e: { uid: string; summary: string; start: Date; end: Date; rrule?: string; zone?: string }): string {
  const zone = e.zone ?? DEMO_ZONE;
  const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const wall = (d: Date) => localText(d, zone).replace(/[-:]/g, '').replace(' ', 'T') + '00';
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Apple Inc.//iPhone OS 18.1//EN',
    'CALSCALE:GREGORIAN',
    tzlib_get_ical_block(zone)[0],
    'BEGIN:VEVENT',
    `UID:${e.uid}`,
    `DTSTAMP:${stamp(new Date())}`,
    `CREATED:${stamp(new Date())}`,
    `LAST-MODIFIED:${stamp(new Date())}`,
    `DTSTART;TZID=${zone}:${wall(e.start)}`,
    `DTEND;TZID=${zone}:${wall(e.end)}`,
    `SUMMARY:${e.summary.replace(/([,;\\])/g, '\\$1')}`,
    ...(e.rrule ? [`RRULE:${e.rrule}`] : []),
    'SEQUENCE:0',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

/** The demo account as the phone holds it: its calendars by name. */
export interface DemoPhone {
  phone: Phone;
  calendars: { name: string; slug: string }[];
  /** The slug of a calendar by name or slug (case-insensitive); throws naming the calendars otherwise. */
  slugOf(name: string): string;
}

const basic = (account: TargetAccount) => 'Basic ' + Buffer.from(`${account.appleId}:${account.appSpecificPassword}`).toString('base64');

async function propfind(account: TargetAccount, url: string, depth: '0' | '1', props: string): Promise<string> {
  const res = await fetch(url, {
    method: 'PROPFIND',
    headers: { authorization: basic(account), depth, 'content-type': 'application/xml; charset=utf-8' },
    body: `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>${props}</D:prop></D:propfind>`,
  });
  if (res.status === 401) throw new Error(`${url} refused ${account.appleId} (401): is this the demo's port and password?`);
  if (res.status !== 207) throw new Error(`PROPFIND ${url} answered ${res.status}`);
  return res.text();
}

const tag = (name: string) => new RegExp(`<(?:[\\w-]+:)?${name}[^>]*>([\\s\\S]*?)</(?:[\\w-]+:)?${name}>`);

/** Finds the account's calendars the way a phone does: principal, calendar home, then the home's members. */
export async function connectPhone(serverUrl: string, appleId = DEMO_APPLE_ID, appSpecificPassword = DEMO_PASSWORD): Promise<DemoPhone> {
  const account: TargetAccount = { appleId, appSpecificPassword, serverUrl, homeUrl: '', calendars: [], primary: { slug: 'work', name: 'Work' } };
  let front: string;
  try {
    front = await propfind(account, new URL('/', serverUrl).href, '0', '<D:current-user-principal/>');
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') throw new Error(`nothing answers at ${serverUrl}: start \`npm run demo:caldav\` first (and set DEMO_PORT if it runs on another port)`);
    throw e;
  }
  const principal = tag('href').exec(tag('current-user-principal').exec(front)?.[1] ?? '')?.[1];
  if (!principal) throw new Error(`${serverUrl} named no principal`);
  const principalUrl = new URL(principal, serverUrl).href;
  const home = tag('href').exec(tag('calendar-home-set').exec(await propfind(account, principalUrl, '0', '<C:calendar-home-set/>'))?.[1] ?? '')?.[1];
  if (!home) throw new Error(`${principalUrl} named no calendar home`);
  account.homeUrl = new URL(home, principalUrl).href;
  const listing = await propfind(account, account.homeUrl, '1', '<D:displayname/><D:resourcetype/><C:supported-calendar-component-set/>');
  const calendars: DemoPhone['calendars'] = [];
  for (const [response] of listing.matchAll(/<(?:[\w-]+:)?response[\s>][\s\S]*?<\/(?:[\w-]+:)?response>/g)) {
    const href = tag('href').exec(response)?.[1];
    const name = tag('displayname').exec(response)?.[1];
    if (!href || !name || !/<(?:[\w-]+:)?calendar\s*\/>/.test(response) || !/name="VEVENT"/.test(response)) continue;
    const slug = decodeURIComponent(new URL(href, account.homeUrl).pathname.replace(/\/$/, '').split('/').pop()!);
    calendars.push({ name, slug });
  }
  const target = { request: (a: TargetAccount, url: string, init: { method: string; body?: string; headers?: Record<string, string> }) => fetch(url, { method: init.method, body: init.body, headers: { authorization: basic(a), ...init.headers } }) } as CalDavTarget;
  return {
    phone: new Phone(target, account),
    calendars,
    slugOf: (name) => {
      const found = calendars.find((c) => c.name.toLowerCase() === name.toLowerCase() || c.slug === name);
      if (!found) throw new Error(`no calendar "${name}": the account has ${calendars.map((c) => `"${c.name}"`).join(', ')}`);
      return found.slug;
    },
  };
}

/** What the demo seeds, as the phone would have written it, dated from `monday` (the README's "next Monday"). */
export function demoSeeds(monday: string): { calendar: string; uid: string; summary: string; start: Date; end: Date; rrule?: string; note: string }[] {
  // The recurring lunch starts on the Monday of the current week, so every weekday from today on shows it.
  const thisMonday = new Date(Date.parse(`${monday}T00:00:00Z`) - 7 * 86400000).toISOString().slice(0, 10);
  return [
    {
      calendar: 'Work',
      uid: 'demo-lunch@icloud.example',
      summary: 'Lunch',
      start: wallTime(`${thisMonday}T12:00`),
      end: wallTime(`${thisMonday}T13:00`),
      rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
      note: 'every weekday 12:00-13:00 (recurring): blocks the 12:00 slot',
    },
    {
      calendar: 'Work',
      uid: 'demo-dentist@icloud.example',
      summary: 'Dentist',
      start: wallTime(`${monday}T10:30`),
      end: wallTime(`${monday}T11:15`),
      note: `Monday ${monday} 10:30-11:15: blocks the 10:00 and 11:00 slots`,
    },
    {
      calendar: 'Calendar',
      uid: 'demo-school-run@icloud.example',
      summary: 'School run',
      start: wallTime(`${monday}T15:30`),
      end: wallTime(`${monday}T16:00`),
      note: `Monday ${monday} 15:30-16:00: blocks the 15:00 slot once "Calendar" is checked for conflicts`,
    },
  ];
}

/** One event of the account as the phone reads it. */
interface PhoneEvent {
  calendar: string;
  slug: string;
  href: string;
  ics: string;
  uid: string;
  summary: string;
  start: Date | null;
  end: Date | null;
  rrule: string | null;
  appointmentIds: string[];
}

function readEvent(calendar: { name: string; slug: string }, href: string, ics: string): PhoneEvent | null {
  registerTimezones();
  const vevent = new ICAL.Component(ICAL.parse(ics)).getFirstSubcomponent('vevent');
  if (!vevent) return null;
  const time = (name: string) => {
    const value = vevent.getFirstPropertyValue(name) as ICAL.Time | null;
    return value ? value.toJSDate() : null;
  };
  const rrule = vevent.getFirstPropertyValue('rrule');
  return {
    calendar: calendar.name,
    slug: calendar.slug,
    href,
    ics,
    uid: String(vevent.getFirstPropertyValue('uid') ?? ''),
    summary: String(vevent.getFirstPropertyValue('summary') ?? ''),
    start: time('dtstart'),
    end: time('dtend'),
    rrule: rrule ? String(rrule) : null,
    appointmentIds: String(vevent.getFirstPropertyValue('x-crm-appointment-ids') ?? '').split(',').filter(Boolean),
  };
}

async function allEvents(demo: DemoPhone): Promise<PhoneEvent[]> {
  const out: PhoneEvent[] = [];
  for (const calendar of demo.calendars) {
    for (const { href, ics } of await demo.phone.events(calendar.slug)) {
      const event = readEvent(calendar, href, ics);
      if (event) out.push(event);
    }
  }
  return out.sort((a, b) => (a.start?.getTime() ?? 0) - (b.start?.getTime() ?? 0));
}

/** The one event `what` names (an appointment id, a UID, or part of a title), waiting up to `waitMs` for it. */
async function findEvent(demo: DemoPhone, what: string, waitMs = 20000): Promise<PhoneEvent> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const events = await allEvents(demo);
    const exact = events.filter((e) => e.appointmentIds.includes(what) || e.uid === what);
    const byTitle = events.filter((e) => e.summary.toLowerCase().includes(what.toLowerCase()));
    const found = exact.length ? exact : byTitle;
    if (found.length === 1) return found[0];
    if (found.length > 1) throw new Error(`${found.length} events match "${what}": name one by its CRM appointment id or UID (see \`npm run demo:phone -- list\`)`);
    if (Date.now() > deadline) throw new Error(`no event matches "${what}" (see \`npm run demo:phone -- list\`)`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function describe(e: PhoneEvent): string {
  const when = e.start && e.end ? `${localText(e.start)}-${localText(e.end).slice(11)}` : '(no time)';
  const extra = [e.rrule ? `repeats ${e.rrule}` : '', e.appointmentIds.length ? `CRM appointment ${e.appointmentIds.join(', ')}` : ''].filter(Boolean).join('; ');
  return `${e.calendar.padEnd(10)} ${when}  ${e.summary}${extra ? `  (${extra})` : ''}`;
}

/** Moves an event to `start`, keeping its length and its zone, as Calendar on the iPhone does. */
function moved(e: PhoneEvent, start: Date): string {
  registerTimezones();
  const root = new ICAL.Component(ICAL.parse(e.ics));
  const vevent = root.getFirstSubcomponent('vevent')!;
  const length = (e.end?.getTime() ?? e.start!.getTime() + 3600000) - e.start!.getTime();
  for (const [name, date] of [['dtstart', start], ['dtend', new Date(start.getTime() + length)]] as const) {
    const old = vevent.getFirstProperty(name);
    const tzid = old?.getParameter('tzid');
    const zone = typeof tzid === 'string' ? ICAL.TimezoneService.get(tzid) : undefined;
    if (old) vevent.removeProperty(old);
    const property = new ICAL.Property(name);
    property.setValue(zone ? ICAL.Time.fromJSDate(date, true).convertToZone(zone) : ICAL.Time.fromJSDate(date, true));
    if (zone && typeof tzid === 'string') property.setParameter('tzid', tzid);
    vevent.addProperty(property);
  }
  const now = ICAL.Time.fromJSDate(new Date(), true);
  vevent.updatePropertyWithValue('last-modified', now);
  vevent.updatePropertyWithValue('dtstamp', now);
  vevent.updatePropertyWithValue('sequence', Number(vevent.getFirstPropertyValue('sequence') ?? 0) + 1);
  return root.toString() + '\r\n';
}

const USAGE = `usage: npm run demo:phone -- list
       npm run demo:phone -- add TITLE START [MINUTES] [CALENDAR]
       npm run demo:phone -- move EVENT START
       npm run demo:phone -- delete EVENT
START: 2026-12-07T09:00 (Europe/Berlin) or an instant such as 2026-12-07T08:00:00Z; EVENT: a CRM appointment id, a UID or part of a title.`;

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  const demo = await connectPhone(`http://127.0.0.1:${demoPort()}`);
  const nameOf = (e: PhoneEvent) => e.href.split('/').pop()!;
  switch (command) {
    case 'list': {
      for (const e of await allEvents(demo)) console.log(describe(e));
      return;
    }
    case 'add': {
      const [title, when, minutes = '60', calendar = 'Work'] = rest;
      if (!title || !when || !(Number(minutes) > 0)) throw new Error(USAGE);
      const start = parseWhen(when);
      const end = new Date(start.getTime() + Number(minutes) * 60000);
      const uid = randomUUID().toUpperCase();
      await demo.phone.put(demo.slugOf(calendar), phoneEvent({ uid, summary: title, start, end }));
      console.log(`added to ${calendar}: ${title}, ${localText(start)}-${localText(end).slice(11)} ${DEMO_ZONE} (${start.toISOString()}), UID ${uid}`);
      return;
    }
    case 'move': {
      const [what, when] = rest;
      if (!what || !when) throw new Error(USAGE);
      const event = await findEvent(demo, what);
      if (!event.start) throw new Error(`"${event.summary}" has no start time`);
      const start = parseWhen(when);
      await demo.phone.put(event.slug, moved(event, start), nameOf(event));
      console.log(`moved "${event.summary}" from ${localText(event.start)} to ${localText(start)} ${DEMO_ZONE} (${start.toISOString()})`);
      return;
    }
    case 'delete': {
      const [what] = rest;
      if (!what) throw new Error(USAGE);
      const event = await findEvent(demo, what);
      await demo.phone.delete(event.href);
      console.log(`deleted "${event.summary}" from ${event.calendar}`);
      return;
    }
    default:
      throw new Error(USAGE);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
