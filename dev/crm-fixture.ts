import ICAL from 'ical.js';
import { CONNECT, dataOf, startTestApp, type GraphQLResponse, type TestApp } from './app';
import type { CalDavTarget, TargetAccount } from './caldav-targets';
import { Phone } from './phone';

export const APPOINTMENT_FIELDS = 'id calendarId startsAt endsAt title status assignedUserIds syncState syncError contact { name email }';

/** A CRM user with a connected account, its primary calendar, and their phone. */
export interface CrmUser {
  sub: string;
  token: string;
  account: TargetAccount;
  phone: Phone;
  integrationId: string;
}

/** One app, an admin, and users who each connected an account of `target` and chose a primary calendar. */
export interface CrmFixture {
  app: TestApp;
  admin: string;
  users: Record<string, CrmUser>;
  createCalendar(input: Record<string, unknown>): Promise<{ id: string }>;
  book(input: Record<string, unknown>, token?: string): Promise<GraphQLResponse>;
  slots(calendarId: string, from: Date, to: Date): Promise<{ startsAt: string; availableUserIds: string[]; seatsLeft: number }[]>;
  /** Waits until the outbox has pushed everything it can. */
  pushed(): Promise<void>;
  /** Events in a user's primary calendar, read by their phone: summary, UTC start and end, description. */
  icloudEvents(sub: string): Promise<{ summary: string; start: string; end: string; description: string; uid: string }[]>;
}

export async function crmFixture(target: CalDavTarget, subs: string[], options: { databaseUrl?: string; env?: Record<string, string> } = {}): Promise<CrmFixture> {
  const accounts = await target.newAccounts(subs.length);
  const app = await startTestApp({ caldavUrl: accounts[0].serverUrl, databaseUrl: options.databaseUrl, env: options.env });
  const users: Record<string, CrmUser> = {};
  for (const [i, sub] of subs.entries()) {
    const account = accounts[i];
    const token = app.token(sub);
    const { id, calendars } = dataOf(await app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
    const primary = calendars.find((c: { name: string }) => c.name === account.primary.name);
    dataOf(await app.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: primary.id }));
    // Only the primary blocks time, so that users sharing one Xandikos principal do not block each other.
    dataOf(await app.gql(token, `mutation($ids: [ID!]!) { setConflictCalendars(input: {calendarIds: $ids}) { id } }`, { ids: [primary.id] }));
    users[sub] = { sub, token, account, phone: new Phone(target, account), integrationId: id };
  }
  const admin = app.token('boss', 'tenant-a', 'admin');
  return {
    app,
    admin,
    users,
    createCalendar: async (input) => dataOf(await app.gql(admin, `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, { i: input })).createCrmCalendar,
    book: (input, token = admin) => app.gql(token, `mutation($i: BookAppointmentInput!) { bookAppointment(input: $i) { ${APPOINTMENT_FIELDS} } }`, { i: input }),
    slots: async (calendarId, from, to) =>
      dataOf(await app.gql(admin, `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt availableUserIds seatsLeft } }`, { c: calendarId, f: from, t: to })).availableSlots,
    pushed: () => app.server.services.outbox.idle(),
    icloudEvents: (sub) => eventsInPrimary(users[sub]),
  };
}

/** Events in a user's primary calendar, read by their phone: summary, UTC start and end, description. */
export async function eventsInPrimary({ phone, account }: Pick<CrmUser, 'phone' | 'account'>): Promise<{ summary: string; start: string; end: string; description: string; uid: string }[]> {
  return (await phone.events(account.primary.slug))
    .map(({ ics }) => {
      const event = new ICAL.Event(new ICAL.Component(ICAL.parse(ics)).getFirstSubcomponent('vevent')!);
      return { summary: event.summary, start: event.startDate.toJSDate().toISOString(), end: event.endDate.toJSDate().toISOString(), description: event.description ?? '', uid: event.uid };
    })
    .sort((a, b) => a.start.localeCompare(b.start));
}

/** The next date (UTC midnight) at least `days` ahead that falls on ISO weekday 1..7. */
export function nextWeekday(days: number, weekday: number): Date {
  const d = new Date(Date.now() + days * 86400000);
  d.setUTCHours(0, 0, 0, 0);
  while (((d.getUTCDay() + 6) % 7) + 1 !== weekday) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

export const at = (day: Date, hour: number, minute = 0) => new Date(day.getTime() + (hour * 60 + minute) * 60000);
