import type { EntityManager } from '@mikro-orm/core';
import { BusyInterval } from '../entities/busy-interval.entity';
import { EventOrigin, type ExternalEvent } from '../entities/external-event.entity';
import type { ParsedEvent } from './ical-busy';

/**
 * Replaces the busy rows of one stored event with the intervals of its parsed events. Only events
 * created in iCloud block time through this index: CRM appointments block time on their own.
 */
export async function replaceBusy(em: EntityManager, event: ExternalEvent, userId: string, parsed: ParsedEvent[]): Promise<void> {
  await em.nativeDelete(BusyInterval, { event });
  if (event.origin !== EventOrigin.ICLOUD) return;
  for (const e of parsed) {
    for (const b of e.busy) em.create(BusyInterval, { userId, calendar: event.calendar, event, startsAt: b.start, endsAt: b.end, title: e.summary });
  }
}
