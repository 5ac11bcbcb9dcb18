import type { CalendarIntegration, IntegrationStatus } from './calendar-integration.entity';
import type { ConflictKind, ConflictWarning } from './conflict-warning.entity';
import type { ExternalCalendar } from './external-calendar.entity';
import type { SyncOutcome, SyncRun } from './sync-run.entity';

/**
 * Domain events on the bus: plain, serialisable data (ids, ISO times, enums), the same in process and
 * through Redis. The GraphQL layer maps them to its types at the subscription edge, so a schema change
 * never ripples into the reconciler.
 */

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

/** A calendar of an integration as users see it: no URLs, no sync cursors. */
export interface CalendarView {
  id: string;
  name: string;
  color: string | null;
  writable: boolean;
  isPrimary: boolean;
  checkForConflicts: boolean;
}

/** An integration as users see it, sent when its status changes. Never a credential. */
export interface IntegrationView {
  id: string;
  provider: string;
  accountEmail: string;
  status: IntegrationStatus;
  statusMessage: string | null;
  lastSyncedAt: string | null;
  /** When the reconciler syncs it next (the interval, or the backoff after failures); null when it is not scheduled. */
  nextSyncAt: string | null;
  calendars: CalendarView[];
}

/** A finished sync run. */
export interface SyncRunView {
  id: string;
  integrationId: string;
  startedAt: string;
  finishedAt: string | null;
  /** When the integration syncs next, as decided at the end of this run. */
  nextSyncAt: string | null;
  outcome: SyncOutcome;
  requests: number;
  created: number;
  updated: number;
  deleted: number;
  warnings: string[];
  error: string | null;
}

/** A conflict warning; `userId` is the CRM user id (JWT sub). */
export interface ConflictWarningView {
  id: string;
  kind: ConflictKind;
  userId: string;
  appointmentId: string | null;
  message: string;
  startsAt: string | null;
  endsAt: string | null;
  createdAt: string;
  resolved: boolean;
}

/** Returns the view of a calendar. */
export function calendarView(c: ExternalCalendar): CalendarView {
  return { id: c.id, name: c.name, color: c.color, writable: c.writable, isPrimary: c.isPrimary, checkForConflicts: c.checkForConflicts };
}

/** Returns the view of an integration (its calendars must be loaded), calendars sorted by name. */
export function integrationView(i: CalendarIntegration): IntegrationView {
  return {
    id: i.id,
    provider: i.provider,
    accountEmail: i.appleId,
    status: i.status,
    statusMessage: i.statusMessage,
    lastSyncedAt: isoOrNull(i.lastSyncedAt),
    nextSyncAt: isoOrNull(i.nextSyncAt),
    calendars: i.calendars
      .getItems()
      .map(calendarView)
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** Returns the view of a run. */
export function syncRunView(run: SyncRun): SyncRunView {
  const { id, outcome, requests, created, updated, deleted, warnings, error } = run;
  return { id, integrationId: run.integration.id, startedAt: run.startedAt.toISOString(), finishedAt: isoOrNull(run.finishedAt), nextSyncAt: isoOrNull(run.nextSyncAt), outcome, requests, created, updated, deleted, warnings, error };
}

/** Returns the view of a warning for the CRM user `userExternalId`. */
export function conflictWarningView(w: ConflictWarning, userExternalId: string): ConflictWarningView {
  const { id, kind, appointmentId, message, resolved } = w;
  return { id, kind, userId: userExternalId, appointmentId, message, startsAt: isoOrNull(w.startsAt), endsAt: isoOrNull(w.endsAt), createdAt: w.createdAt.toISOString(), resolved };
}
