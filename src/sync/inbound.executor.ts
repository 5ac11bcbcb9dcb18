import type { EntityManager } from '@mikro-orm/core';
import { BusyInterval } from '../entities/busy-interval.entity';
import type { ExternalCalendar } from '../entities/external-calendar.entity';
import { EventOrigin, ExternalEvent } from '../entities/external-event.entity';
import { replaceBusy } from './busy-index';
import type { ParsedEvent } from './ical-busy';
import type { InboundAction, InboundPlan } from './inbound.planner';

/** Counts a sync run reports. */
export interface ApplyResult {
  created: number;
  updated: number;
  deleted: number;
  warnings: string[];
}

/** UIDs of the events this server writes for CRM appointments end with this suffix. */
export const CRM_UID_SUFFIX = '@crm-calendar-core';

const originOf = (events: ParsedEvent[]) => (events.some((e) => e.uid.endsWith(CRM_UID_SUFFIX)) ? EventOrigin.CRM : EventOrigin.ICLOUD);

/**
 * Applies an inbound plan to one calendar in one transaction, with the new sync cursor: a crash leaves
 * the old token and the old rows, and the next run redoes the work. Busy time is stored only for events
 * created in iCloud (appointments block time on their own).
 */
export async function applyInbound(
  em: EntityManager,
  calendar: ExternalCalendar,
  userId: string,
  plan: InboundPlan,
  cursor: { token: string | null; ctag: string | null },
  full: boolean,
): Promise<ApplyResult> {
  const result: ApplyResult = { created: 0, updated: 0, deleted: 0, warnings: [] };
  await em.transactional(async (tx) => {
    const hrefs = plan.actions.filter((a): a is Exclude<InboundAction, { type: 'holdMassDeletion' }> => 'href' in a).map((a) => a.href);
    const existing = new Map((await tx.find(ExternalEvent, { calendar, href: { $in: hrefs } })).map((e) => [e.href, e]));
    for (const action of plan.actions) {
      switch (action.type) {
        case 'upsertBusy': {
          const event = existing.get(action.href) ?? tx.create(ExternalEvent, { calendar, href: action.href, etag: action.etag, uid: '', contentHash: '', raw: '' });
          const main = action.events[0];
          Object.assign(event, {
            etag: action.etag,
            uid: main.uid,
            contentHash: action.contentHash,
            summary: main.summary,
            raw: action.data,
            origin: originOf(action.events),
            lastModified: main.lastModified,
          });
          await replaceBusy(tx, event, userId, action.events);
          result[action.change === 'created' ? 'created' : 'updated']++;
          break;
        }
        case 'recordEtag':
          existing.get(action.href)!.etag = action.etag;
          break;
        case 'removeBusy': {
          const event = existing.get(action.href)!;
          await tx.nativeDelete(BusyInterval, { event });
          tx.remove(event);
          result.deleted++;
          break;
        }
        case 'skipMalformed':
          result.warnings.push(`skipped ${action.href}: ${action.reason}`);
          break;
        case 'holdMassDeletion':
          result.warnings.push(`"${calendar.name}" suddenly lists no events (${action.stored} stored): kept everything until a later sync confirms`);
          break;
      }
    }
    if (plan.unfetched.length) result.warnings.push(`${plan.unfetched.length} changed object(s) of "${calendar.name}" could not be fetched: retried next sync`);
    calendar.emptyListingSince = plan.emptyListing ? (calendar.emptyListingSince ?? new Date()) : null;
    if (plan.advanceToken) Object.assign(calendar, { syncToken: cursor.token, ctag: cursor.ctag });
    if (plan.advanceToken && full) calendar.lastFullSyncAt = new Date();
    tx.persist(calendar);
  });
  return result;
}
