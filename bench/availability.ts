import { rulesOf } from '../src/availability/calendar-rules';
import { createDAVClient } from 'tsdav';
import { computeAvailability, type Block } from '../src/availability/availability.engine';
import { candidateSlots } from '../src/availability/slots';
import { CrmCalendar } from '../src/entities/crm-calendar.entity';
import { parseCalendarObject } from '../src/sync/ical/calendar-object';
import type { CalDavTarget } from '../dev/caldav-targets';
import { at, crmFixture, nextWeekday } from '../dev/crm-fixture';
import { vevent } from '../dev/phone';
import { median } from './measure';
import { lessIsBetter, type BenchResult } from './results';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 500);

/**
 * Slots for a week of a service calendar whose staff member has `EVENTS` iCloud events: ours from the
 * local busy index, the peer (what integrations without an index do) asking CalDAV for the week's events
 * on every request and expanding them. Same engine for both, so the difference is the data source.
 */
export async function benchAvailability(target: CalDavTarget, rounds: number): Promise<{ line: string; result: BenchResult }> {
  const f = await crmFixture(target, ['sam']);
  try {
    const { phone, account } = f.users.sam;
    for (let i = 0; i < EVENTS; i++) {
      const day = at(nextWeekday(1, 1), 0);
      const start = new Date(day.getTime() + (i % 60) * 86400000 + (8 + (i % 9)) * 3600000);
      await phone.put(account.primary.slug, vevent(`busy-${i}`, start.toISOString().replace('.000', ''), new Date(start.getTime() + 1800000).toISOString().replace('.000', ''), `Busy ${i}`));
    }
    await f.app.gql(f.users.sam.token, `mutation($id: ID!) { syncNow(integrationId: $id) { id } }`, { id: f.users.sam.integrationId });
    const open = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '18:00' }));
    const { id } = await f.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 30, openHours: open, teamMembers: [{ userId: 'sam' }] });
    const from = at(nextWeekday(1, 1), 0);
    const to = new Date(from.getTime() + 7 * 86400000);
    const em = () => f.app.server.orm.fork();
    const calendar = await em().findOneOrFail(CrmCalendar, id, { populate: ['members', 'members.user'] });

    const ours = await median(rounds, async () => (await f.app.server.services.availability.slotsOf(em(), rulesOf(calendar), from, to, new Date(), undefined, true)).length);
    const dav = await createDAVClient({ serverUrl: account.serverUrl, credentials: { username: account.appleId, password: account.appSpecificPassword }, authMethod: 'Basic', defaultAccountType: 'caldav' });
    const userId = calendar.members[0].user.id;
    const peer = await median(rounds, async () => {
      const objects = await dav.fetchCalendarObjects({ calendar: { url: phone.calendarUrl(account.primary.slug) }, timeRange: { start: from.toISOString(), end: to.toISOString() } });
      const busy: Block[] = objects.flatMap((o) => parseCalendarObject(o.data, { timezone: 'UTC', accountAddresses: [], window: { start: from, end: to } }).flatMap((e) => e.busy));
      const slots = candidateSlots(calendar, from, to);
      return computeAvailability({ calendar, members: [{ userId, priority: calendar.members[0].priority, recentCount: 0 }], slots, blocks: new Map([[userId, busy]]), seatsTaken: new Map() }).length;
    });
    if (ours.result !== peer.result) throw new Error(`the two disagree: ${ours.result} slots against ${peer.result}`);
    return {
      line: `availableSlots, 7 days, ${EVENTS} iCloud events: peer (CalDAV per request) ${peer.ms.toFixed(1)} ms | ours (local index) ${ours.ms.toFixed(1)} ms | ${(peer.ms / ours.ms).toFixed(1)}x faster`,
      result: lessIsBetter('availability, 7 days, one member', 'median time', 'ms', ours.ms, peer.ms, 'tsdav time-range REPORT + ical.js expansion per request'),
    };
  } finally {
    await f.app.close();
  }
}
