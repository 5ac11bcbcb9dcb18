import type { EntityManager } from '@mikro-orm/core';
import { CalendarIntegration, IntegrationStatus } from '../../entities/calendar-integration.entity';
import { findBy, findOneBy, plainRows } from '../../services/plain-rows';
import type { ConflictWarning } from '../../entities/conflict-warning.entity';
import { ExternalCalendar } from '../../entities/external-calendar.entity';
import { EventOrigin, ExternalEvent } from '../../entities/external-event.entity';
import { AppointmentSyncLink, SyncState } from '../../entities/sync-link.entity';
import { User } from '../../entities/user.entity';
import { linkState } from './sync-link-state';
import { applyICloudEdit } from '../inbound/appointment-from-icloud';
import { deletedWarning, editConflictWarning } from '../conflicts';
import type { CalDavClient } from '../caldav/caldav.client';
import { CalDavError } from '../caldav/caldav.errors';
import { deleteObject, getObject, putObject } from '../caldav/caldav-objects';
import { desiredEvent } from './desired-event';
import { laterChangeWins, planPush, type PrimaryState, type PushAction } from './outbound.planner';
import { renderEvent, uidFor, type DesiredEvent } from '../ical/event-renderer';
import type { IcalReader } from '../ical/reader.pool';
import { contentHash } from '../ical/content-hash';
import { isSessionKey } from '../sync-key';

/** How a push ended: done (the entry goes), or waiting for the user to reconnect (the entry stays). */
export type PushOutcome = 'done' | 'waitingForReconnect';

export interface PushContext {
  /** A CalDAV client for the integration of the user's primary calendar. */
  clientFor(calendar: ExternalCalendar): Promise<CalDavClient>;
  /** Records a warning for the CRM user (stored and published by the caller). */
  warn(warning: ConflictWarning): void;
  /** Reads iCloud's version of a copy off the event loop. */
  reader: IcalReader;
  /** Told what the planner decided, before any I/O (so that a failure can say what was being tried). */
  planned?(action: PushAction['type']): void;
  /** Told the users (internal ids) whose appointment moved with iCloud's version (their cached availability is stale once stored). */
  moved(userIds: string[]): void;
}

/** Only the event's own fields are needed here: an empty window expands no occurrences. */
const NO_BUSY = { start: new Date(0), end: new Date(0) };

/**
 * Brings the iCloud copy of one sync key in one user's primary calendar in line with the CRM (decide
 * from the current state, then write with a precondition, never without). Throws `CalDavError` for
 * failures the caller retries or reports; a 412 is resolved here by the conflict rule of DESIGN.md.
 */
export async function pushCopy(em: EntityManager, syncKey: string, userId: string, ctx: PushContext): Promise<PushOutcome> {
  // Plain-row reads (`findOneBy`): each push is a dozen statements, and em.findOne cost 8 times the CPU.
  const link = (await findOneBy(em, AppointmentSyncLink, { syncKey, userId })) ?? em.create(AppointmentSyncLink, { syncKey, userId, uid: uidFor(syncKey, userId) });
  const primary = await primaryOf(em, userId);
  const desired = await desiredEvent(em, syncKey, userId, link.uid);
  const ics = desired ? renderEvent(desired) : null;
  const desiredHash = ics ? contentHash(ics) : null;
  const action = planPush({
    primary: primaryState(primary),
    primaryHref: primary?.href ?? null,
    desiredHash,
    desiredModified: desired?.lastModified ?? null,
    link: { ...link, deletedInICloud: link.state === SyncState.DELETED_IN_ICLOUD },
  });
  ctx.planned?.(action.type);
  switch (action.type) {
    case 'markNotConnected':
      linkState.notConnected(link);
      return 'done';
    case 'waitForReconnect':
      linkState.waitingForReconnect(link);
      return 'waitingForReconnect';
    case 'markSynced':
    case 'keepDeletedInICloud':
      if (action.type === 'markSynced') linkState.inLine(link);
      return 'done';
    case 'delete':
      await removeCopy(await ctx.clientFor(primary!), action.href, action.etag);
      await em.nativeDelete(ExternalEvent, { href: action.href });
      linkState.removed(link);
      return 'done';
    case 'forget':
      linkState.removed(link);
      return 'done';
    case 'move':
    case 'create':
    case 'update': {
      if (action.type === 'move') await removeOldCopy(em, ctx, userId, action);
      const client = await ctx.clientFor(primary!);
      // Whether this very version went out before (a try whose answer was lost): then the CRM has not changed since.
      const sentBefore = link.unconfirmed.includes(desiredHash!);
      // Write-ahead: the href (of a new copy) and the version are stored before the PUT, so that a lost answer
      // or a crash leaves no orphan behind, and a later 412 against this version is known as our own.
      linkState.writing(link, desiredHash!, action.type === 'update' ? undefined : { href: hrefFor(primary!, link), calendarHref: primary!.href });
      await em.flush();
      const version = { ics: ics!, hash: desiredHash! };
      const written = action.type === 'update' ? await update(em, client, link, desired!, version, ctx) : await create(em, client, link, desired!, version, ctx, sentBefore);
      if (!written) return 'done';
      if ('kept' in written) {
        // iCloud's version was kept: it is the inbound status row now, as our own writes are. Otherwise the
        // next sync takes the copy for our own write and keeps the row of our old version under iCloud's
        // etag (found by the inbound property test).
        await recordOwnWrite(em, primary!, link, written.kept);
        return 'done';
      }
      const etag = written.etag ?? (await getObject(client, written.href))?.etag ?? null;
      linkState.pushed(link, { href: written.href, etag, contentHash: written.hash, calendarHref: primary!.href, crmModifiedAt: desired!.lastModified });
      await recordOwnWrite(em, primary!, link, written.ics);
      return 'done';
    }
  }
}

/**
 * Removes the copy left in the previous primary calendar (If-Match, as every write). When that calendar's
 * account is gone or disconnected there is nothing we may write to: the copy is forgotten.
 */
async function removeOldCopy(em: EntityManager, ctx: PushContext, userId: string, move: { oldHref: string; oldEtag: string | null; oldCalendarHref: string }): Promise<void> {
  const old = await em.findOne(ExternalCalendar, { href: move.oldCalendarHref, integration: { user: userId } }, { populate: ['integration'] });
  if (old && primaryState(old) === 'connected') await removeCopy(await ctx.clientFor(old), move.oldHref, move.oldEtag);
  await em.nativeDelete(ExternalEvent, { href: move.oldHref });
}

/** The user's primary calendar, with its integration loaded, or null. */
async function primaryOf(em: EntityManager, userId: string): Promise<ExternalCalendar | null> {
  const [row] = await plainRows(em, 'select c.id, c.integration_id from external_calendar c join calendar_integration i on i.id = c.integration_id where c.is_primary = ? and i.user_id = ? limit 1', [true, userId]);
  if (!row) return null;
  const [calendar] = await findBy(em, ExternalCalendar, { id: row.id as string });
  await findBy(em, CalendarIntegration, { id: row.integration_id as string });
  return calendar ?? null;
}

function primaryState(primary: ExternalCalendar | null): PrimaryState {
  if (!primary) return 'none';
  if (primary.integration.status === IntegrationStatus.DISCONNECTED) return 'disconnected';
  return primary.integration.status === IntegrationStatus.NEEDS_RECONNECT ? 'needsReconnect' : 'connected';
}

/** A rendered version of a copy and its content hash. */
type Version = { ics: string; hash: string };
type Written = { href: string; etag: string | null; hash: string; ics: string };
/** iCloud's version of the copy was kept (the later change): its content. */
type Kept = { kept: string };

/** Where a copy is created: its UID's local part, in the primary calendar. */
function hrefFor(primary: ExternalCalendar, link: AppointmentSyncLink): string {
  return new URL(`${encodeURIComponent(link.uid.replace(/@.*/, ''))}.ics`, primary.href).href;
}

/**
 * PUT with If-None-Match: a 412 means the object exists, possibly ours from a try whose answer was lost.
 * Returns `kept` when iCloud's version was kept.
 */
async function create(em: EntityManager, client: CalDavClient, link: AppointmentSyncLink, desired: DesiredEvent, version: Version, ctx: PushContext, sentBefore: boolean): Promise<Written | Kept> {
  const href = link.href!;
  const result = await putObject(client, href, version.ics, { ifNoneMatch: '*' });
  if (result.ok) return { href, etag: result.etag, hash: version.hash, ics: version.ics };
  const existing = await getObject(client, href);
  if (!existing || !existing.data.includes(`UID:${link.uid}`)) throw new CalDavError('BAD_RESPONSE', `${href} exists and is not ours`);
  // Ours, from a try whose answer was lost; the user's iPhone may have changed it since (it saw the copy
  // before we knew it was there). Writing over it unread lost that edit without a word (found by the
  // two-way property test): it is settled as an update's 412 is. When this version had gone out already,
  // the iPhone edited what the CRM still says: a later edit is followed, with no conflict to report.
  return settle(em, client, link, desired, version, ctx, existing, !sentBefore);
}

/**
 * PUT with If-Match. On 412 someone changed the event in iCloud: re-read it; if it is gone the copy is
 * DELETED_IN_ICLOUD (null); otherwise it is settled by `settle`.
 */
async function update(em: EntityManager, client: CalDavClient, link: AppointmentSyncLink, desired: DesiredEvent, version: Version, ctx: PushContext): Promise<Written | Kept | null> {
  const href = link.href!;
  const result = await putObject(client, href, version.ics, { ifMatch: link.etag! });
  if (result.ok) return { href, etag: result.etag, hash: version.hash, ics: version.ics };
  const current = await getObject(client, href);
  if (!current) {
    linkState.deletedInICloud(link);
    ctx.warn(await deletedWarning(em, await em.findOneOrFail(User, link.userId), link.syncKey));
    return null;
  }
  return settle(em, client, link, desired, version, ctx, current, true);
}

/**
 * Settles a copy that iCloud holds in another version than the one we last knew (`current`, read after a
 * 412): a version of ours (confirmed or unconfirmed) is written over; otherwise the later change wins
 * (CRM `updatedAt` against iCloud LAST-MODIFIED). An iCloud version written over is kept in an EDIT_CONFLICT
 * warning; a CRM version that loses is too when `crmChanged` (both sides changed the copy). Returns `kept`
 * when iCloud's version was kept.
 */
async function settle(em: EntityManager, client: CalDavClient, link: AppointmentSyncLink, desired: DesiredEvent, { ics, hash }: Version, ctx: PushContext, current: { etag: string; data: string }, crmChanged: boolean): Promise<Written | Kept> {
  const href = link.href!;
  const reading = await ctx.reader.read(current.data, { timezone: desired.timezone, accountAddresses: [], window: NO_BUSY });
  // An unreadable version in iCloud cannot be the later change: the CRM's is written over it.
  const theirs = 'events' in reading ? reading : null;
  // Our own earlier write whose answer was lost: iCloud already holds what we meant to write. No conflict.
  if (theirs?.contentHash === hash) return { href, etag: current.etag, hash, ics };
  // iCloud holds a version of ours (the last confirmed one, or one whose answer was lost): nobody else
  // changed it, so there is nothing to settle: ours is written over it.
  if (theirs && (theirs.contentHash === link.contentHash || link.unconfirmed.includes(theirs.contentHash))) return rewrite(client, href, current.etag, hash, ics);
  const user = await em.findOneOrFail(User, link.userId);
  const session = isSessionKey(link.syncKey);
  if (theirs && laterChangeWins({ crmModified: desired.lastModified, icloudModified: theirs.events[0]?.lastModified ?? null, session }) === 'icloud') {
    if (crmChanged) ctx.warn(editConflictWarning(em, user, desired, theirs.events[0], 'icloud'));
    const appointment = await applyICloudEdit(em, desired.appointmentIds[0], theirs.events[0]);
    if (appointment) ctx.moved(appointment.assignees.getItems().map((a) => a.userId));
    linkState.editedInICloud(link, current.etag, theirs.contentHash, appointment?.updatedAt ?? null);
    return { kept: current.data };
  }
  ctx.warn(editConflictWarning(em, user, desired, theirs?.events[0], 'crm'));
  return rewrite(client, href, current.etag, hash, ics);
}

/** PUTs ours over the version iCloud has now (If-Match its etag). Throws `CalDavError` when it changed again. */
async function rewrite(client: CalDavClient, href: string, etag: string, hash: string, ics: string): Promise<Written> {
  const again = await putObject(client, href, ics, { ifMatch: etag });
  if (!again.ok) throw new CalDavError('UNAVAILABLE', `${href} keeps changing in iCloud: retrying`);
  return { href, etag: again.etag, hash, ics };
}


/**
 * DELETE with If-Match; on 412 the cancel is the later change: delete the version now there. Without an
 * etag (a create whose answer was lost) the object is looked up first.
 */
async function removeCopy(client: CalDavClient, href: string, etag: string | null): Promise<void> {
  if (etag && (await deleteObject(client, href, etag)).ok) return;
  const current = await getObject(client, href);
  if (current && !(await deleteObject(client, href, current.etag)).ok) throw new CalDavError('UNAVAILABLE', `${href} keeps changing in iCloud: retrying`);
}

/** Stores our write (or iCloud's version we kept) as the inbound status row, so the next inbound pass sees the same etag and skips it (no echo). */
async function recordOwnWrite(em: EntityManager, calendar: ExternalCalendar, link: AppointmentSyncLink, ics: string): Promise<void> {
  if (!link.href || !link.etag) return;
  const row = (await findOneBy(em, ExternalEvent, { calendar: calendar.id, href: link.href })) ?? em.create(ExternalEvent, { calendar, href: link.href, etag: link.etag, uid: link.uid, contentHash: '', raw: '' });
  Object.assign(row, { etag: link.etag, uid: link.uid, contentHash: contentHash(ics), raw: ics, origin: EventOrigin.CRM, summary: null });
}
