import { CrmCalendarType, MemberPriority, RoundRobinMode } from '../entities/crm-calendar.entity';
import { classSessionKey } from '../sync/sync-key';
import type { Slot } from './slots';

/** Time a member cannot be booked: iCloud busy time, or an appointment with its buffers. */
export interface Block {
  start: Date;
  end: Date;
  /** Appointment blocks carry their sync key: a class session does not block its own further seats. */
  syncKey?: string;
  appointmentId?: string;
}

/**
 * A member's iCloud busy time indexed once for many queries (see `BusyTimeIndex`): starts ascending, and the
 * running maximum of the ends, so that whether anything overlaps [start, end) is one binary search and one
 * comparison, whatever window the query asks for.
 */
export interface SortedBusy {
  starts: Float64Array;
  maxEnds: Float64Array;
}

/** Indexes intervals (epoch ms) for `SortedBusy` lookups; invalid ones overlap nothing and are left out. */
export function sortBusy(intervals: readonly { start: number; end: number }[]): SortedBusy {
  const valid = intervals.filter((x) => !Number.isNaN(x.start) && !Number.isNaN(x.end)).sort((x, y) => x.start - y.start);
  return { starts: Float64Array.from(valid, (x) => x.start), maxEnds: runningMax(valid) };
}

/**
 * Whether one of `busy` overlaps [start, end) (`b.start < end && start < b.end`), for queries in the order of a
 * page of slots: `end` rarely goes down, so the count of starts below it is carried from one query to the next
 * and moved forward a few steps (a binary search over what is left when it has further to go, or when `end`
 * went back). A 25-member page asks 8,800 times; a binary search from scratch each time was a tenth of its CPU.
 */
class BusyCursor {
  private below = 0;
  private lastEnd = -Infinity;

  constructor(private readonly busy: SortedBusy) {}

  overlaps(start: number, end: number): boolean {
    const { starts, maxEnds } = this.busy;
    let n = this.below;
    if (end < this.lastEnd) n = countBelow(starts, end, 0);
    else {
      for (let steps = 0; n < starts.length && starts[n] < end; n++) {
        if (++steps === 8) {
          n = countBelow(starts, end, n);
          break;
        }
      }
    }
    this.below = n;
    this.lastEnd = end;
    return n > 0 && maxEnds[n - 1] > start;
  }
}

export interface EngineMember {
  /** Internal user id. */
  userId: string;
  priority: MemberPriority;
  /** Appointments of this calendar assigned to the member, booked in the last 30 days. */
  recentCount: number;
}

export interface EngineCalendar {
  id: string;
  type: CrmCalendarType;
  seatsPerSlot: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
  roundRobinMode: RoundRobinMode;
}

export interface SlotAvailability extends Slot {
  /** Internal ids of the members who could take it, best first for the calendar's rule. */
  availableUserIds: string[];
  seatsLeft: number;
  /** Who a booking of this slot is assigned to (empty when it cannot be booked). */
  assignTo: string[];
}

const RANK: Record<MemberPriority, number> = { HIGH: 0, MEDIUM: 1, LOW: 2 };

/**
 * Orders free members for round robin and service calendars. OPTIMIZE_FOR_AVAILABILITY: highest priority,
 * then fewest recent appointments. EQUAL_DISTRIBUTION: fewest recent appointments, then priority. Then by id,
 * so that the choice is deterministic.
 */
export function rankMembers(members: EngineMember[], mode: RoundRobinMode): EngineMember[] {
  const byPriority = (a: EngineMember, b: EngineMember) => RANK[a.priority] - RANK[b.priority];
  const byCount = (a: EngineMember, b: EngineMember) => a.recentCount - b.recentCount;
  const [first, second] = mode === RoundRobinMode.EQUAL_DISTRIBUTION ? [byCount, byPriority] : [byPriority, byCount];
  return [...members].sort((a, b) => first(a, b) || second(a, b) || a.userId.localeCompare(b.userId));
}

/**
 * One member's blocks, sorted by start once, with the running maximum of their ends: whether any block
 * overlaps [start, end) is a count of the blocks starting before `end` (`BusyCursor`) and one comparison (the
 * latest end among them against `start`). Blocks of the calendar's own class sessions are kept apart, since
 * a session does not block itself: they are checked one by one, from the nearest backwards, while the
 * running maximum says one of them may still overlap.
 */
class BusyIndex {
  private readonly plain: BusyCursor;
  private readonly indexed: BusyCursor | undefined;
  private readonly sessions: { start: number; end: number; syncKey: string }[];
  private readonly sessionStarts: Float64Array;
  private readonly sessionMaxEnds: Float64Array;

  /** `indexed`: more busy time of the member, indexed beforehand (no appointment or session among it). */
  constructor(blocks: readonly Block[], ignoreAppointmentId: string | undefined, sessionPrefix: string | undefined, indexed?: SortedBusy) {
    const plain: { start: number; end: number }[] = [];
    const sessions: { start: number; end: number; syncKey: string }[] = [];
    for (const b of blocks) {
      if (ignoreAppointmentId !== undefined && b.appointmentId === ignoreAppointmentId) continue;
      const start = b.start.getTime();
      const end = b.end.getTime();
      // An invalid time overlaps nothing.
      if (Number.isNaN(start) || Number.isNaN(end)) continue;
      if (sessionPrefix !== undefined && b.syncKey !== undefined && b.syncKey.startsWith(sessionPrefix)) sessions.push({ start, end, syncKey: b.syncKey });
      else plain.push({ start, end });
    }
    sessions.sort((x, y) => x.start - y.start);
    this.plain = new BusyCursor(sortBusy(plain));
    this.indexed = indexed && new BusyCursor(indexed);
    this.sessions = sessions;
    this.sessionStarts = Float64Array.from(sessions, (x) => x.start);
    this.sessionMaxEnds = runningMax(sessions);
  }

  /** True when a block overlaps [start, end) (`block.start < end && start < block.end`), the block of `session` aside. */
  busy(start: number, end: number, session: (() => string) | undefined): boolean {
    if (this.plain.overlaps(start, end)) return true;
    if (this.indexed !== undefined && this.indexed.overlaps(start, end)) return true;
    let key: string | undefined;
    for (let i = countBelow(this.sessionStarts, end, 0) - 1; i >= 0 && this.sessionMaxEnds[i] > start; i--) {
      const b = this.sessions[i];
      if (b.end <= start) continue;
      key ??= session?.();
      if (b.syncKey !== key) return true;
    }
    return false;
  }
}

function runningMax(blocks: readonly { end: number }[]): Float64Array {
  const out = new Float64Array(blocks.length);
  let max = -Infinity;
  for (let i = 0; i < blocks.length; i++) out[i] = max = Math.max(max, blocks[i].end);
  return out;
}

/** How many of the ascending `starts` are below `end`, knowing that the first `lo` are. */
function countBelow(starts: Float64Array, end: number, lo: number): number {
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid] < end) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The key prefix of the calendar's own class sessions (`class:<calendarId>:`), or undefined for other types. */
function sessionPrefixOf(calendar: EngineCalendar): string | undefined {
  if (calendar.type !== CrmCalendarType.CLASS_BOOKING) return undefined;
  const epoch = new Date(0);
  return classSessionKey(calendar.id, epoch).slice(0, -epoch.toISOString().length);
}

/**
 * Whether each member is free for `slot` by the same rule as `computeAvailability` (nothing of theirs overlaps
 * the slot widened by the buffers; a class session does not block itself), whatever the calendar's type makes
 * of it. Returns the blocks that keep each member busy (empty when free), in their order.
 */
export function blockersOf(input: { calendar: EngineCalendar; userIds: string[]; slot: Slot; blocks: ReadonlyMap<string, Block[]>; ignoreAppointmentId?: string }): Map<string, Block[]> {
  const { calendar, slot } = input;
  const start = slot.start.getTime() - calendar.bufferBeforeMinutes * 60000;
  const end = slot.end.getTime() + calendar.bufferAfterMinutes * 60000;
  const session = calendar.type === CrmCalendarType.CLASS_BOOKING ? classSessionKey(calendar.id, slot.start) : undefined;
  const out = new Map<string, Block[]>();
  for (const userId of input.userIds) {
    const overlapping = (input.blocks.get(userId) ?? []).filter(
      (b) => b.start.getTime() < end && start < b.end.getTime() && (session === undefined || b.syncKey !== session) && (input.ignoreAppointmentId === undefined || b.appointmentId !== input.ignoreAppointmentId),
    );
    out.set(userId, overlapping);
  }
  return out;
}

/**
 * Decides, for each candidate slot, who is free and whether it can be booked, from busy blocks read
 * beforehand (pure: no I/O). A member is free when nothing of theirs overlaps the slot widened by the
 * calendar's buffers. `seatsTaken` counts booked seats of class sessions by start (ms).
 * `ignoreAppointmentId` leaves one appointment out (rescheduling it). `busy` adds each member's iCloud busy
 * time indexed beforehand (the same rule as blocks; it holds no appointment).
 */
export function computeAvailability(input: {
  calendar: EngineCalendar;
  members: EngineMember[];
  slots: Slot[];
  blocks: ReadonlyMap<string, Block[]>;
  busy?: ReadonlyMap<string, SortedBusy>;
  seatsTaken: ReadonlyMap<number, number>;
  ignoreAppointmentId?: string;
}): SlotAvailability[] {
  const { calendar, members } = input;
  const before = calendar.bufferBeforeMinutes * 60000;
  const after = calendar.bufferAfterMinutes * 60000;
  const isClass = calendar.type === CrmCalendarType.CLASS_BOOKING;
  // Only the block of this calendar's class session at the slot's start is left out; such keys start with
  // the session key's part before the start (`class:<calendarId>:`).
  const sessionPrefix = sessionPrefixOf(calendar);
  const indexes = new Map<string, BusyIndex>();
  const indexOf = (userId: string) => {
    let index = indexes.get(userId);
    if (!index) indexes.set(userId, (index = new BusyIndex(input.blocks.get(userId) ?? [], input.ignoreAppointmentId, sessionPrefix, input.busy?.get(userId))));
    return index;
  };
  // Ranking is a total order: the free members of a slot, in this order, are the ranking of those members.
  const ranked = calendar.type === CrmCalendarType.CLASS_BOOKING || calendar.type === CrmCalendarType.COLLECTIVE ? members : rankMembers(members, calendar.roundRobinMode);
  const rankedIndexes = ranked.map((m) => indexOf(m.userId));
  // Slots are built as literals ({ ...slot } with more fields is about 100 times slower in V8).
  return input.slots.map((slot): SlotAvailability => {
    const start = slot.start.getTime() - before;
    const end = slot.end.getTime() + after;
    const session = isClass ? () => classSessionKey(calendar.id, slot.start) : undefined;
    switch (calendar.type) {
      case CrmCalendarType.CLASS_BOOKING: {
        const host = members[0];
        const seatsLeft = host !== undefined && !indexOf(host.userId).busy(start, end, session) ? calendar.seatsPerSlot - (input.seatsTaken.get(slot.start.getTime()) ?? 0) : 0;
        const ids = seatsLeft > 0 ? [host.userId] : [];
        return { start: slot.start, end: slot.end, availableUserIds: ids, seatsLeft: Math.max(0, seatsLeft), assignTo: ids };
      }
      case CrmCalendarType.COLLECTIVE: {
        const all = rankedIndexes.every((index) => !index.busy(start, end, session));
        const ids = all ? members.map((m) => m.userId) : [];
        return { start: slot.start, end: slot.end, availableUserIds: ids, seatsLeft: all ? 1 : 0, assignTo: ids };
      }
      default: {
        const free: string[] = [];
        for (let i = 0; i < ranked.length; i++) if (!rankedIndexes[i].busy(start, end, session)) free.push(ranked[i].userId);
        return { start: slot.start, end: slot.end, availableUserIds: free, seatsLeft: free.length, assignTo: free.slice(0, 1) };
      }
    }
  });
}
