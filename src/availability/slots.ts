import type { OpenHours } from '../entities/crm-calendar.entity';
import { localDateOf, wallMsToUtc } from './zoned-time';

const DAY_MS = 86400000;

export interface SlotRules {
  timezone: string;
  openHours: OpenHours[];
  slotDurationMinutes: number;
  slotIntervalMinutes: number;
}

export interface Slot {
  start: Date;
  end: Date;
}

/** "09:30" -> 570. */
export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

/**
 * The slots the open hours allow that start in [from, to): on each local day, from each opening every
 * `slotIntervalMinutes` while a whole slot fits before closing. Wall times are in the calendar's zone,
 * so 09:00 stays 09:00 across a DST change; a start skipped by spring-forward is left out.
 * Only the local days that [from, to) touches are visited (and the day before `from`).
 */
export function candidateSlots(rules: SlotRules, from: Date, to: Date): Slot[] {
  const fromMs = from.getTime();
  const toMs = to.getTime();
  const duration = rules.slotDurationMinutes * 60000;
  // Openings by ISO weekday, in minutes, parsed once.
  const openings: [number, number][][] = [[], [], [], [], [], [], [], []];
  for (const h of rules.openHours) openings[h.weekday]?.push([minutesOf(h.start), minutesOf(h.end)]);
  const first = localDateOf(new Date(fromMs - DAY_MS), rules.timezone);
  const last = localDateOf(to, rules.timezone);
  const lastKey = Date.UTC(last.year, last.month - 1, last.day);
  const slots: Slot[] = [];
  let ordered = true;
  let previous = -Infinity;
  let weekday = first.weekday;
  for (let day = Date.UTC(first.year, first.month - 1, first.day); day <= lastKey; day += DAY_MS, weekday = (weekday % 7) + 1) {
    for (const [open, close] of openings[weekday]) {
      for (let t = open; t + rules.slotDurationMinutes <= close; t += rules.slotIntervalMinutes) {
        const start = wallMsToUtc(day + t * 60000, rules.timezone);
        if (start === null || start < fromMs || start >= toMs) continue;
        if (start <= previous) ordered = false;
        previous = start;
        slots.push({ start: new Date(start), end: new Date(start + duration) });
      }
    }
  }
  if (ordered) return slots;
  // Overlapping open hours of one day would list a start twice.
  slots.sort((a, b) => a.start.getTime() - b.start.getTime());
  return slots.filter((s, i) => i === 0 || s.start.getTime() !== slots[i - 1].start.getTime());
}
