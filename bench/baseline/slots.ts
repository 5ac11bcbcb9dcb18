// Baseline of bench/slots.ts: src/availability/slots.ts as it was before the availability hot path was reworked (a copy, never used by the server).
import type { OpenHours } from '../../src/entities/crm-calendar.entity';
import { addDays, localDateOf, wallTimeToUtc } from './zoned-time';

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
 */
export function candidateSlots(rules: SlotRules, from: Date, to: Date): Slot[] {
  const slots: Slot[] = [];
  const last = localDateOf(to, rules.timezone);
  const lastKey = Date.UTC(last.year, last.month - 1, last.day);
  for (let day = localDateOf(new Date(from.getTime() - 86400000), rules.timezone); Date.UTC(day.year, day.month - 1, day.day) <= lastKey; day = addDays(day, 1)) {
    for (const hours of rules.openHours.filter((h) => h.weekday === day.weekday)) {
      const close = minutesOf(hours.end);
      for (let t = minutesOf(hours.start); t + rules.slotDurationMinutes <= close; t += rules.slotIntervalMinutes) {
        const start = wallTimeToUtc(day, t, rules.timezone);
        if (!start || start < from || start >= to) continue;
        slots.push({ start, end: new Date(start.getTime() + rules.slotDurationMinutes * 60000) });
      }
    }
  }
  // Overlapping open hours of one day would list a start twice.
  const unique = new Map(slots.map((s) => [s.start.getTime(), s]));
  return [...unique.values()].sort((a, b) => a.start.getTime() - b.start.getTime());
}
