import type { EntityManager } from '@mikro-orm/core';
import { BusyInterval } from '../entities/busy-interval.entity';
import type { ConflictWarning } from '../entities/conflict-warning.entity';
import type { ExternalCalendar } from '../entities/external-calendar.entity';
import { EventOrigin, ExternalEvent } from '../entities/external-event.entity';
import { OutboxEntry } from '../entities/outbox-entry.entity';
import { AppointmentSyncLink, SyncState } from '../entities/sync-link.entity';
import { applyICloudEdit } from './appointment-from-icloud';
import { replaceBusy } from './busy-index';
import { deletedWarning, doubleBookings } from './conflicts';
import type { ParsedEvent } from './ical-busy';
import type { InboundPlan } from './inbound.planner';
import { parseSyncKey } from './sync-key';

/** Counts a sync run reports, what it skipped (`warnings`), and the warnings it raised for the CRM user. */
export interface ApplyResult {
  created: number;
  updated: number;
  deleted: number;
  warnings: string[];
  conflicts: ConflictWarning[];
}

/** UIDs of the events this server writes for CRM appointments end with this suffix. */
export const CRM_UID_SUFFIX = '@crm-calendar-core';

const originOf = (events: ParsedEvent[]) => (events.some((e) => e.uid.endsWith(CRM_UID_SUFFIX)) ? EventOrigin.CRM : EventOrigin.ICLOUD);

type Stored = { href: string; etag: string; data: string; contentHash: string; events: ParsedEvent[] };

/**
 * Applies an inbound plan to one calendar in one transaction, with the new sync cursor: a crash leaves
 * the old token and the old rows, and the next run redoes the work. Busy time is stored only for events
 * created in iCloud (appointments block time on their own).
 */
export async function applyInbound(
  em: EntityManager,
  calendar: ExternalCalendar,
  user: { id: string; tenantId: string },
  plan: InboundPlan,
  cursor: { token: string | null; ctag: string | null },
  full: boolean,
): Promise<ApplyResult> {
  const result: ApplyResult = { created: 0, updated: 0, deleted: 0, warnings: [], conflicts: [] };
  await em.transactional(async (tx) => {
    const hrefs = plan.actions.flatMap((a) => ('href' in a ? [a.href] : []));
    const existing = new Map((await tx.find(ExternalEvent, { calendar, href: { $in: hrefs } })).map((e) => [e.href, e]));
    const links = new Map((await tx.find(AppointmentSyncLink, { userId: user.id, href: { $in: hrefs } })).map((l) => [l.href!, l]));

    const store = async (s: Stored): Promise<ExternalEvent> => {
      const event = existing.get(s.href) ?? tx.create(ExternalEvent, { calendar, href: s.href, etag: s.etag, uid: '', contentHash: '', raw: '' });
      existing.set(s.href, event);
      const main = s.events[0];
      Object.assign(event, { etag: s.etag, uid: main.uid, contentHash: s.contentHash, summary: main.summary, raw: s.data, origin: originOf(s.events), lastModified: main.lastModified, unreadable: null });
      await replaceBusy(tx, event, user.id, s.events);
      return event;
    };

    for (const action of plan.actions) {
      switch (action.type) {
        case 'upsertBusy': {
          const event = await store(action);
          result[action.change === 'created' ? 'created' : 'updated']++;
          result.warnings.push(...action.events.flatMap((e) => e.warnings));
          if (event.origin === EventOrigin.ICLOUD) result.conflicts.push(...(await doubleBookings(tx, user, action.events.flatMap((e) => e.busy), `"${action.events[0].summary ?? 'An iCloud event'}"`, action.href)));
          break;
        }
        case 'updateAppointmentFromICloud': {
          const link = links.get(action.href);
          // A push finished while this calendar was read: what was fetched is older than the copy now. Leave
          // it to the next sync (which sees our write as our own) instead of moving the appointment back.
          if (!link || link.contentHash !== action.linkHash) break;
          await store({ ...action, events: [action.event] });
          Object.assign(link, { etag: action.etag, contentHash: action.contentHash, state: SyncState.SYNCED, lastError: null });
          const target = parseSyncKey(action.syncKey);
          const appointment = target.kind === 'appointment' ? await applyICloudEdit(tx, target.appointmentId, action.event) : null;
          if (appointment) {
            result.updated++;
            const moved = { start: appointment.startsAt, end: appointment.endsAt };
            result.conflicts.push(...(await doubleBookings(tx, user, [moved], `"${appointment.title}" (moved in iCloud)`, action.href, appointment.id)));
          }
          break;
        }
        case 'pushToICloud': {
          const link = links.get(action.href);
          if (!link || link.contentHash !== action.linkHash) break;
          Object.assign(link, { etag: action.etag, contentHash: null });
          const event = existing.get(action.href);
          if (event) event.etag = action.etag;
          tx.create(OutboxEntry, { syncKey: action.syncKey, userId: user.id });
          result.warnings.push(`the class session at ${action.href} was edited in iCloud: the CRM's version is written back`);
          break;
        }
        case 'recordDeletedInICloud': {
          const link = links.get(action.href);
          if (!link) break;
          Object.assign(link, { href: null, etag: null, contentHash: null, state: SyncState.DELETED_IN_ICLOUD });
          result.conflicts.push(await deletedWarning(tx, user, link.syncKey));
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
        case 'skipMalformed': {
          // Remembered with its etag: not fetched again until it changes, and named in the status until then.
          // Busy time it had from an earlier, readable version stays (never "free" on a guess).
          const event = existing.get(action.href) ?? tx.create(ExternalEvent, { calendar, href: action.href, etag: action.etag, uid: '', contentHash: '', raw: '' });
          existing.set(action.href, event);
          Object.assign(event, { etag: action.etag, summary: action.label, unreadable: action.reason });
          result.warnings.push(`skipped ${action.label}: ${action.reason}`);
          break;
        }
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
