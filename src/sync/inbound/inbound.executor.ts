import type { EntityManager } from '@mikro-orm/core';
import type { ConflictWarning } from '../../entities/conflict-warning.entity';
import type { ExternalCalendar } from '../../entities/external-calendar.entity';
import { EventOrigin, ExternalEvent } from '../../entities/external-event.entity';
import { OutboxEntry } from '../../entities/outbox-entry.entity';
import { AppointmentSyncLink } from '../../entities/sync-link.entity';
import { applyICloudEdit } from './appointment-from-icloud';
import { linkState } from '../outbound/sync-link-state';
import { BusyRows } from '../busy-index';
import { DoubleBookingCheck, deletedWarning } from '../conflicts';
import { insertRows } from '../../services/plain-rows';
import type { ParsedEvent } from '../ical/calendar-object';
import type { InboundPlan } from './inbound.planner';
import { CRM_UID_SUFFIX, parseSyncKey } from '../sync-key';

/** Counts a sync run reports, what it skipped (`warnings`), and the warnings it raised for the CRM user. */
export interface ApplyResult {
  created: number;
  updated: number;
  deleted: number;
  warnings: string[];
  conflicts: ConflictWarning[];
  /** Users (internal ids) whose CRM appointments moved with an edit made in iCloud: their cached availability is stale. */
  moved: string[];
}

const originOf = (events: ParsedEvent[]) => (events.some((e) => e.uid.endsWith(CRM_UID_SUFFIX)) ? EventOrigin.CRM : EventOrigin.ICLOUD);

type Stored = { href: string; etag: string; data: string; contentHash: string; events: ParsedEvent[] };

type Action = InboundPlan['actions'][number];

/** What one transaction of the executor works with: the rows the actions touch, loaded once. */
interface Scope {
  tx: EntityManager;
  calendar: ExternalCalendar;
  user: { id: string; tenantId: string };
  existing: Map<string, ExternalEvent>;
  links: Map<string, AppointmentSyncLink>;
  /** Events new to this calendar, inserted in bulk (`writeRows`) rather than through the unit of work. */
  fresh: ExternalEvent[];
  /** Busy rows written in bulk before the transaction commits. */
  busy: BusyRows;
  /** The user's bookings that the new busy time of the whole plan could overlap, read once. */
  overlaps: DoubleBookingCheck;
}

const emptyResult = (): ApplyResult => ({ created: 0, updated: 0, deleted: 0, warnings: [], conflicts: [], moved: [] });
const hrefsOf = (actions: Action[]) => actions.flatMap((a) => ('href' in a ? [a.href] : []));

/**
 * Applies an inbound plan to one calendar in one transaction, with the new sync cursor: a crash leaves
 * the old token and the old rows, and the next run redoes the work. Busy time is stored only for events
 * created in iCloud (appointments block time on their own).
 *
 * When the transaction fails (the database refuses one object's row, say a NUL character on PostgreSQL),
 * the plan is applied again one action per transaction, and an action that fails on its own becomes a skip
 * of that object with a warning naming it: one object never stops its calendar (vdirsyncer commits its
 * status per item for the same reason). Throws only when even recording a skip fails (the database is down).
 */
export async function applyInbound(
  em: EntityManager,
  calendar: ExternalCalendar,
  user: { id: string; tenantId: string },
  plan: InboundPlan,
  cursor: { token: string | null; ctag: string | null },
  full: boolean,
): Promise<ApplyResult> {
  // Each transaction works in a fresh identity map: rows a failed one changed in memory are never flushed by the next.
  const before = { syncToken: calendar.syncToken, ctag: calendar.ctag, emptyListingSince: calendar.emptyListingSince, lastFullSyncAt: calendar.lastFullSyncAt };
  try {
    return await em.fork().transactional(async (tx) => {
      const result = emptyResult();
      const scope = await loadScope(tx, calendar, user, plan.actions);
      for (const action of plan.actions) await applyAction(scope, action, result);
      await writeRows(scope);
      advanceCursor(tx, calendar, plan, cursor, full, result);
      return result;
    });
  } catch {
    Object.assign(calendar, before);
    return applyOneByOne(em, calendar, user, plan, cursor, full);
  }
}

async function applyOneByOne(
  em: EntityManager,
  calendar: ExternalCalendar,
  user: { id: string; tenantId: string },
  plan: InboundPlan,
  cursor: { token: string | null; ctag: string | null },
  full: boolean,
): Promise<ApplyResult> {
  const result = emptyResult();
  let keepCursor = false;
  for (const action of plan.actions) {
    let own = emptyResult();
    try {
      await em.fork().transactional(async (tx) => applyAlone(tx, calendar, user, action, own));
    } catch (e) {
      own = emptyResult();
      if (!('href' in action)) throw e;
      const reason = `could not be stored (${storeFailure(e)})`;
      const label = action.href.split('/').filter(Boolean).pop() ?? action.href;
      if ('etag' in action) {
        // Remembered with its etag like an unreadable object: named in the status until it changes in iCloud.
        const skip: Action = { type: 'skipMalformed', href: action.href, etag: action.etag, label, reason };
        await em.fork().transactional(async (tx) => applyAlone(tx, calendar, user, skip, own));
      } else {
        // A deletion that could not be recorded: the cursor stays, so that the next sync lists it again.
        own.warnings.push(`the deletion of ${label} ${reason}: retried next sync`);
        keepCursor = true;
      }
    }
    for (const key of ['created', 'updated', 'deleted'] as const) result[key] += own[key];
    result.warnings.push(...own.warnings);
    result.conflicts.push(...own.conflicts);
    result.moved.push(...own.moved);
  }
  await em.fork().transactional(async (tx) => advanceCursor(tx, calendar, { ...plan, advanceToken: plan.advanceToken && !keepCursor }, cursor, full, result));
  return result;
}

/** The database's own words for a failed write, without the SQL statement (which holds the user's data). */
function storeFailure(e: unknown): string {
  // Knex-based drivers write "<sql> - <driver message>".
  return String((e as Error)?.message ?? e).split(' - ').pop()!.trim().split('\n')[0].slice(0, 160);
}

/** One action in a transaction of its own (after the plan as a whole failed). */
async function applyAlone(tx: EntityManager, calendar: ExternalCalendar, user: { id: string; tenantId: string }, action: Action, result: ApplyResult): Promise<void> {
  const scope = await loadScope(tx, calendar, user, [action]);
  await applyAction(scope, action, result);
  await writeRows(scope);
}

const EVENT_COLUMNS = ['id', 'calendar_id', 'href', 'etag', 'uid', 'content_hash', 'summary', 'raw', 'origin', 'last_modified', 'unreadable', 'updated_at'];

/** Writes what the actions collected: changes to stored rows (flush), then new events, then their busy rows. */
async function writeRows({ tx, fresh, busy }: Scope): Promise<void> {
  await tx.flush();
  const rows = fresh.map((e) => [e.id, e.calendar.id, e.href, e.etag, e.uid, e.contentHash, e.summary, e.raw, e.origin, e.lastModified, e.unreadable, e.updatedAt]);
  await insertRows(tx, 'external_event', EVENT_COLUMNS, rows);
  await busy.write(tx);
}

/** The stored row of `href`, or a new one (inserted by `writeRows`). */
function eventOf({ calendar, existing, fresh }: Scope, href: string): { event: ExternalEvent; isNew: boolean } {
  const held = existing.get(href);
  if (held) return { event: held, isNew: false };
  const event = Object.assign(new ExternalEvent(), { calendar, href, etag: '', uid: '', contentHash: '', raw: '' });
  existing.set(href, event);
  fresh.push(event);
  return { event, isNew: true };
}

async function loadScope(tx: EntityManager, calendar: ExternalCalendar, user: { id: string; tenantId: string }, actions: Action[]): Promise<Scope> {
  const hrefs = hrefsOf(actions);
  const existing = new Map((await tx.find(ExternalEvent, { calendar, href: { $in: hrefs } })).map((e) => [e.href, e]));
  const links = new Map((await tx.find(AppointmentSyncLink, { userId: user.id, href: { $in: hrefs } })).map((l) => [l.href!, l]));
  const busy = actions.flatMap((a) => (a.type === 'upsertBusy' ? a.events.flatMap((e) => e.busy) : []));
  return { tx, calendar, user, existing, links, fresh: [], busy: new BusyRows(), overlaps: await DoubleBookingCheck.load(tx, user, busy) };
}

/** The calendar's cursor and listing state once its actions are applied. */
function advanceCursor(tx: EntityManager, calendar: ExternalCalendar, plan: InboundPlan, cursor: { token: string | null; ctag: string | null }, full: boolean, result: ApplyResult): void {
  if (plan.unfetched.length) result.warnings.push(`${plan.unfetched.length} changed object(s) of "${calendar.name}" could not be fetched: retried next sync`);
  calendar.emptyListingSince = plan.emptyListing ? (calendar.emptyListingSince ?? new Date()) : null;
  if (plan.advanceToken) Object.assign(calendar, { syncToken: cursor.token, ctag: cursor.ctag });
  if (plan.advanceToken && full) calendar.lastFullSyncAt = new Date();
  tx.persist(calendar);
}

function store(scope: Scope, s: Stored): ExternalEvent {
  const { event, isNew } = eventOf(scope, s.href);
  const main = s.events[0];
  Object.assign(event, { etag: s.etag, uid: main.uid, contentHash: s.contentHash, summary: main.summary, raw: s.data, origin: originOf(s.events), lastModified: main.lastModified, unreadable: null });
  scope.busy.replace(event, scope.user.id, s.events, isNew);
  return event;
}

/** Applies one action of the plan (one row of the truth table in `inbound.planner.ts`), adding to `result`. */
async function applyAction(scope: Scope, action: Action, result: ApplyResult): Promise<void> {
  const { tx, calendar, user, existing, links, overlaps } = scope;
  switch (action.type) {
    case 'upsertBusy': {
      const event = store(scope, action);
      result[action.change === 'created' ? 'created' : 'updated']++;
      result.warnings.push(...action.events.flatMap((e) => e.warnings));
      if (event.origin === EventOrigin.ICLOUD) result.conflicts.push(...overlaps.warn(action.events.flatMap((e) => e.busy), `"${action.events[0].summary ?? 'An iCloud event'}"`, action.href));
      break;
    }
    case 'updateAppointmentFromICloud': {
      const link = links.get(action.href);
      // A push finished while this calendar was read: what was fetched is older than the copy now. Leave
      // it to the next sync (which sees our write as our own) instead of moving the appointment back.
      if (!link || link.contentHash !== action.linkHash) break;
      store(scope, { ...action, events: [action.event] });
      const target = parseSyncKey(action.syncKey);
      const appointment = target.kind === 'appointment' ? await applyICloudEdit(tx, target.appointmentId, action.event) : null;
      linkState.editedInICloud(link, action.etag, action.contentHash, appointment?.updatedAt ?? null);
      if (appointment) {
        result.updated++;
        result.moved.push(...appointment.assignees.getItems().map((a) => a.userId));
        const moved = { start: appointment.startsAt, end: appointment.endsAt };
        const check = await DoubleBookingCheck.load(tx, user, [moved], appointment.id);
        result.conflicts.push(...check.warn([moved], `"${appointment.title}" (moved in iCloud)`, action.href));
      }
      break;
    }
    case 'pushToICloud': {
      const link = links.get(action.href);
      if (!link || link.contentHash !== action.linkHash) break;
      linkState.overwriteICloudEdit(link, action.etag);
      const event = existing.get(action.href);
      if (event) event.etag = action.etag;
      tx.create(OutboxEntry, { syncKey: action.syncKey, userId: user.id });
      result.warnings.push(`the class session at ${action.href} was edited in iCloud: the CRM's version is written back`);
      break;
    }
    case 'recordDeletedInICloud': {
      const link = links.get(action.href);
      if (!link) break;
      linkState.deletedInICloud(link);
      result.conflicts.push(await deletedWarning(tx, user, link.syncKey));
      break;
    }
    case 'recordEtag':
      existing.get(action.href)!.etag = action.etag;
      break;
    case 'removeBusy': {
      const event = existing.get(action.href)!;
      scope.busy.replace(event, user.id, [], false);
      tx.remove(event);
      result.deleted++;
      break;
    }
    case 'skipMalformed': {
      // Remembered with its etag: not fetched again until it changes, and named in the status until then.
      // Busy time it had from an earlier, readable version stays (never "free" on a guess).
      const { event } = eventOf(scope, action.href);
      Object.assign(event, { etag: action.etag, summary: action.label, unreadable: action.reason });
      result.warnings.push(`skipped ${action.label}: ${action.reason}`);
      break;
    }
    case 'holdMassDeletion':
      result.warnings.push(`"${calendar.name}" suddenly lists no events (${action.stored} stored): kept everything until a later sync confirms`);
      break;
  }
}
