import { SyncState, type AppointmentSyncLink } from '../../entities/sync-link.entity';

/**
 * After this many failed attempts a copy shows FAILED (with the reason). Its outbox entry stays and is
 * retried at the longest backoff: an outage of any length loses no appointment.
 */
export const MAX_ATTEMPTS = 6;

/** How many unconfirmed versions of a copy are remembered (see `AppointmentSyncLink.unconfirmed`). */
export const UNCONFIRMED_KEPT = 5;

const RECONNECT = 'Waiting for the user to reconnect iCloud.';

/**
 * The state machine of `AppointmentSyncLink.state` (ARCHITECTURE.md, "State machines"): these transitions
 * are the only code that sets a copy's state and the fields that go with it (href, etag, content hash,
 * last error). They change the entity in the caller's unit of work, which stores it.
 */
export const linkState = {
  /** iCloud holds the version the CRM wants at `href` (written now, or found there). */
  pushed(link: AppointmentSyncLink, at: { href: string; etag: string | null; contentHash: string; calendarHref: string; crmModifiedAt: Date }): void {
    Object.assign(link, at, { unconfirmed: [], state: SyncState.SYNCED, lastError: null });
  },
  /** Nothing to write: iCloud already matches the CRM. */
  inLine(link: AppointmentSyncLink): void {
    Object.assign(link, { state: SyncState.SYNCED, lastError: null });
  },
  /** The copy was removed from iCloud (or there is nothing left to remove). */
  removed(link: AppointmentSyncLink): void {
    Object.assign(link, { href: null, etag: null, contentHash: null, crmModifiedAt: null, state: SyncState.SYNCED, lastError: null });
  },
  /**
   * A version is about to be written: where (a new copy's href) and its hash are stored first, so that a
   * lost answer or a crash leaves no orphan and a later 412 against it is known as our own.
   */
  writing(link: AppointmentSyncLink, hash: string, target?: { href: string; calendarHref: string }): void {
    // A new copy's etag and hash are not known until its answer comes; the version confirmed before stays
    // among ours, since iCloud may still hold it at that href (a create retried after a lost etag: found by
    // the two-way property test, which saw an EDIT_CONFLICT nobody caused).
    const confirmed = target ? link.contentHash : null;
    if (target) Object.assign(link, target, { etag: null, contentHash: null });
    const earlier = link.unconfirmed.filter((h) => h !== hash && h !== confirmed);
    link.unconfirmed = [...earlier, ...(confirmed ? [confirmed] : []), hash].slice(-UNCONFIRMED_KEPT);
  },
  /** The user has no primary calendar: nothing can be written. */
  notConnected(link: AppointmentSyncLink): void {
    Object.assign(link, { state: SyncState.NOT_CONNECTED, lastError: 'The user has no primary iCloud calendar.' });
  },
  /** iCloud refused the password: the push waits until the user reconnects. */
  waitingForReconnect(link: AppointmentSyncLink): void {
    Object.assign(link, { state: SyncState.PENDING, lastError: RECONNECT });
  },
  /** A push failed for `reason`; FAILED from the `MAX_ATTEMPTS`th attempt on (still retried). */
  pushFailed(link: AppointmentSyncLink, reason: string, attempts: number): void {
    Object.assign(
      link,
      attempts >= MAX_ATTEMPTS
        ? { state: SyncState.FAILED, lastError: `${reason} (tried ${attempts} times; retried automatically)` }
        : { state: SyncState.PENDING, lastError: `${reason} (retrying)` },
    );
  },
  /** The copy is gone from iCloud (listing, or 404/412 on a write): the user decides (restore or cancel). */
  deletedInICloud(link: AppointmentSyncLink): void {
    Object.assign(link, { href: null, etag: null, contentHash: null, crmModifiedAt: null, state: SyncState.DELETED_IN_ICLOUD });
  },
  /** The user asked to write a copy deleted in iCloud again. */
  restored(link: AppointmentSyncLink): void {
    if (link.state === SyncState.DELETED_IN_ICLOUD) Object.assign(link, { state: SyncState.PENDING, lastError: null });
  },
  /** The copy was edited in iCloud and the CRM took the edit (the appointment follows; `crmModifiedAt` is its time now). */
  editedInICloud(link: AppointmentSyncLink, etag: string, contentHash: string, crmModifiedAt: Date | null): void {
    Object.assign(link, { etag, contentHash, crmModifiedAt, state: SyncState.SYNCED, lastError: null });
  },
  /** The copy was edited in iCloud but the CRM's version wins (a class session): it is written back. */
  overwriteICloudEdit(link: AppointmentSyncLink, etag: string): void {
    Object.assign(link, { etag, contentHash: null });
  },
};
