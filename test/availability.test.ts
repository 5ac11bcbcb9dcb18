import fc from 'fast-check';
import { computeAvailability, rankMembers, sortBusy, type EngineCalendar, type EngineMember } from '../src/availability/availability.engine';
import { candidateSlots } from '../src/availability/slots';
import { formatLocal, wallTimeToUtc } from '../src/availability/zoned-time';
import { CrmCalendarType, MemberPriority, RoundRobinMode } from '../src/entities/crm-calendar.entity';

const everyDay = (start: string, end: string) => [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start, end }));
const iso = (d: Date) => d.toISOString();

describe('slots from open hours across daylight-saving changes', () => {
  it('keeps 09:00 at 09:00 in Berlin through the March change (UTC moves from 08:00 to 07:00)', () => {
    const slots = candidateSlots({ timezone: 'Europe/Berlin', openHours: everyDay('09:00', '10:00'), slotDurationMinutes: 60, slotIntervalMinutes: 60 }, new Date('2026-03-26T00:00:00Z'), new Date('2026-04-01T00:00:00Z'));
    expect(slots.map((s) => iso(s.start))).toEqual([
      '2026-03-26T08:00:00.000Z', '2026-03-27T08:00:00.000Z', '2026-03-28T08:00:00.000Z',
      '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z', '2026-03-31T07:00:00.000Z',
    ]);
    expect(slots.map((s) => formatLocal(s.start, 'Europe/Berlin').slice(11))).toEqual(Array(6).fill('09:00:00+01:00').map((v, i) => (i < 3 ? v : '09:00:00+02:00')));
  });

  it('keeps 09:00 at 09:00 in New York through the March change, and shows it in a Berlin viewer\'s zone', () => {
    const slots = candidateSlots({ timezone: 'America/New_York', openHours: everyDay('09:00', '10:00'), slotDurationMinutes: 30, slotIntervalMinutes: 60 }, new Date('2026-03-06T00:00:00Z'), new Date('2026-03-10T00:00:00Z'));
    expect(slots.map((s) => iso(s.start))).toEqual(['2026-03-06T14:00:00.000Z', '2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z']);
    // Between the American (8 March) and European (29 March) changes the two zones are 5 hours apart, not 6.
    expect(formatLocal(slots[1].start, 'Europe/Berlin')).toBe('2026-03-07T15:00:00+01:00');
    expect(formatLocal(slots[2].start, 'Europe/Berlin')).toBe('2026-03-08T14:00:00+01:00');
  });

  it('leaves out wall times skipped by spring-forward and lists repeated fall-back times once', () => {
    const spring = candidateSlots({ timezone: 'Europe/Berlin', openHours: [{ weekday: 7, start: '01:00', end: '04:00' }], slotDurationMinutes: 30, slotIntervalMinutes: 30 }, new Date('2026-03-28T12:00:00Z'), new Date('2026-03-29T12:00:00Z'));
    expect(spring.map((s) => formatLocal(s.start, 'Europe/Berlin').slice(11, 16))).toEqual(['01:00', '01:30', '03:00', '03:30']);
    const fall = candidateSlots({ timezone: 'America/New_York', openHours: [{ weekday: 7, start: '01:00', end: '02:00' }], slotDurationMinutes: 30, slotIntervalMinutes: 30 }, new Date('2026-10-31T12:00:00Z'), new Date('2026-11-02T00:00:00Z'));
    expect(fall.map((s) => iso(s.start))).toEqual(['2026-11-01T05:00:00.000Z', '2026-11-01T05:30:00.000Z']);
    expect(wallTimeToUtc({ year: 2026, month: 3, day: 8 }, 150, 'America/New_York')).toBeNull();
  });

  it('fits only whole slots before closing, on the interval grid, on open weekdays only', () => {
    const slots = candidateSlots({ timezone: 'UTC', openHours: [{ weekday: 1, start: '09:00', end: '10:40' }], slotDurationMinutes: 45, slotIntervalMinutes: 30 }, new Date('2026-06-01T00:00:00Z'), new Date('2026-06-08T00:00:00Z'));
    expect(slots.map((s) => iso(s.start).slice(11, 16))).toEqual(['09:00', '09:30']);
  });
});

describe('who is free for a slot', () => {
  const slot = { start: new Date('2026-06-01T10:00:00Z'), end: new Date('2026-06-01T11:00:00Z') };
  const members = (...ids: [string, MemberPriority, number][]): EngineMember[] => ids.map(([userId, priority, recentCount]) => ({ userId, priority, recentCount }));
  const calendar = (type: CrmCalendarType, extra: Partial<EngineCalendar> = {}): EngineCalendar => ({ id: 'cal', type, seatsPerSlot: 1, bufferBeforeMinutes: 0, bufferAfterMinutes: 0, roundRobinMode: RoundRobinMode.OPTIMIZE_FOR_AVAILABILITY, ...extra });
  const busy = (start: string, end: string) => ({ start: new Date(start), end: new Date(end) });

  it('finds every overlap, for slots in any order and any length, from blocks and from busy time indexed beforehand', () => {
    const interval = fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 300 })).map(([start, length]) => ({ start: start * 60000, end: (start + length) * 60000 }));
    fc.assert(
      fc.property(fc.array(interval, { maxLength: 60 }), fc.array(interval, { maxLength: 60 }), fc.array(interval, { minLength: 1, maxLength: 40 }), fc.boolean(), (blocks, indexed, slots, sorted) => {
        const asked = sorted ? [...slots].sort((a, b) => a.start - b.start) : slots;
        const result = computeAvailability({
          calendar: calendar(CrmCalendarType.ROUND_ROBIN),
          members: members(['m', MemberPriority.MEDIUM, 0]),
          slots: asked.map((x) => ({ start: new Date(x.start), end: new Date(x.end) })),
          blocks: new Map([['m', blocks.map((b) => ({ start: new Date(b.start), end: new Date(b.end) }))]]),
          busy: new Map([['m', sortBusy(indexed)]]),
          seatsTaken: new Map(),
        });
        const overlapsAny = (x: { start: number; end: number }) => [...blocks, ...indexed].some((b) => b.start < x.end && x.start < b.end);
        expect(result.map((r) => r.seatsLeft === 0)).toEqual(asked.map(overlapsAny));
      }),
      { numRuns: 300 },
    );
  });

  it('offers a class slot while seats are left and its own session does not block the host', () => {
    const cal = calendar(CrmCalendarType.CLASS_BOOKING, { seatsPerSlot: 3 });
    const own = { ...busy('2026-06-01T10:00:00Z', '2026-06-01T11:00:00Z'), syncKey: 'class:cal:2026-06-01T10:00:00.000Z' };
    const [free] = computeAvailability({ calendar: cal, members: members(['host', MemberPriority.MEDIUM, 0]), slots: [slot], blocks: new Map([['host', [own]]]), seatsTaken: new Map([[slot.start.getTime(), 2]]) });
    expect(free).toMatchObject({ seatsLeft: 1, assignTo: ['host'] });
    const [full] = computeAvailability({ calendar: cal, members: members(['host', MemberPriority.MEDIUM, 0]), slots: [slot], blocks: new Map(), seatsTaken: new Map([[slot.start.getTime(), 3]]) });
    expect(full).toMatchObject({ seatsLeft: 0, assignTo: [] });
  });

  it('offers a collective slot only when every member is free', () => {
    const [s] = computeAvailability({ calendar: calendar(CrmCalendarType.COLLECTIVE), members: members(['a', MemberPriority.HIGH, 0], ['b', MemberPriority.LOW, 0]), slots: [slot], blocks: new Map([['b', [busy('2026-06-01T10:30:00Z', '2026-06-01T10:45:00Z')]]]), seatsTaken: new Map() });
    expect(s.assignTo).toEqual([]);
  });

  it('keeps buffers free around a service appointment', () => {
    const cal = calendar(CrmCalendarType.SERVICE, { bufferBeforeMinutes: 15, bufferAfterMinutes: 15 });
    const blocks = new Map([['s', [busy('2026-06-01T09:00:00Z', '2026-06-01T09:50:00Z')]]]);
    expect(computeAvailability({ calendar: cal, members: members(['s', MemberPriority.MEDIUM, 0]), slots: [slot], blocks, seatsTaken: new Map() })[0].assignTo).toEqual([]);
    blocks.set('s', [busy('2026-06-01T09:00:00Z', '2026-06-01T09:45:00Z')]);
    expect(computeAvailability({ calendar: cal, members: members(['s', MemberPriority.MEDIUM, 0]), slots: [slot], blocks, seatsTaken: new Map() })[0].assignTo).toEqual(['s']);
  });

  it('ranks round-robin members by priority then load, or by load then priority', () => {
    const team = members(['low-idle', MemberPriority.LOW, 0], ['high-busy', MemberPriority.HIGH, 5], ['high-idle', MemberPriority.HIGH, 1]);
    expect(rankMembers(team, RoundRobinMode.OPTIMIZE_FOR_AVAILABILITY).map((m) => m.userId)).toEqual(['high-idle', 'high-busy', 'low-idle']);
    expect(rankMembers(team, RoundRobinMode.EQUAL_DISTRIBUTION).map((m) => m.userId)).toEqual(['low-idle', 'high-idle', 'high-busy']);
  });
});
