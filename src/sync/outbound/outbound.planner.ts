/** Where the user's primary calendar stands. */
export type PrimaryState = 'none' | 'disconnected' | 'needsReconnect' | 'connected';

/** What a sync link knows of the copy in iCloud. */
export interface LinkState {
  href: string | null;
  etag: string | null;
  contentHash: string | null;
  /** When the CRM last changed the version iCloud holds (null: not known). */
  crmModifiedAt: Date | null;
  calendarHref: string | null;
  deletedInICloud: boolean;
}

export type PushAction =
  | { type: 'markNotConnected' }
  | { type: 'waitForReconnect' }
  | { type: 'markSynced' }
  /** `etag` null: a create was sent but its answer never came; the executor looks the object up first. */
  | { type: 'delete'; href: string; etag: string | null }
  | { type: 'forget' }
  | { type: 'keepDeletedInICloud' }
  | { type: 'create' }
  /** The user chose another primary calendar: remove the copy from the old one, then create it in the new. */
  | { type: 'move'; oldHref: string; oldEtag: string | null; oldCalendarHref: string }
  | { type: 'update'; href: string; etag: string };

/**
 * Decides what the push of one copy does (decide, then apply: `pushCopy` does the I/O). Pure. `desiredHash`
 * is null when the copy should not exist (cancelled, reassigned, last seat freed).
 */
export function planPush(input: { primary: PrimaryState; primaryHref: string | null; desiredHash: string | null; desiredModified: Date | null; link: LinkState }): PushAction {
  const { primary, desiredHash, link } = input;
  // No calendar to write to: the copy waits until the user picks a primary calendar.
  if (primary === 'none' || primary === 'disconnected') return desiredHash ? { type: 'markNotConnected' } : { type: 'markSynced' };
  // The password was revoked: keep the entry until the user reconnects.
  if (primary === 'needsReconnect') return { type: 'waitForReconnect' };
  // Should not exist and is (or may be, after a create whose answer was lost) in iCloud: delete it, with If-Match.
  if (!desiredHash && link.href) return { type: 'delete', href: link.href, etag: link.etag };
  // Should not exist and is not in iCloud: forget the link's cursor.
  if (!desiredHash) return { type: 'forget' };
  // Deleted in iCloud by the user: never written again unless they ask (restoreAppointmentInICloud).
  if (link.deletedInICloud) return { type: 'keepDeletedInICloud' };
  const here = link.href !== null && link.calendarHref === input.primaryHref;
  // Changed in the CRM and back since iCloud got it (moved there and back before a push): written all the
  // same, with If-Match, so that an iPhone edit made meanwhile meets the later-change rule on its 412 instead
  // of being followed by the next sync although the CRM changed last (found by the two-way property test).
  const changedBack = link.crmModifiedAt !== null && input.desiredModified !== null && input.desiredModified > link.crmModifiedAt;
  if (here && link.contentHash === desiredHash && changedBack && link.etag) return { type: 'update', href: link.href!, etag: link.etag };
  // In iCloud as the CRM wants it: nothing to write.
  if (here && link.contentHash === desiredHash) return { type: 'markSynced' };
  // In iCloud, different: update the version we saw, with If-Match.
  if (here && link.etag) return { type: 'update', href: link.href!, etag: link.etag };
  // In another calendar (the primary changed): move it, so that no stale copy is left behind.
  if (link.href && link.calendarHref && link.calendarHref !== input.primaryHref) return { type: 'move', oldHref: link.href, oldEtag: link.etag, oldCalendarHref: link.calendarHref };
  // Not in this calendar yet: create it, with If-None-Match.
  return { type: 'create' };
}

/**
 * The conflict rule of DESIGN.md for a copy changed on both sides: the later change wins (CRM `updatedAt`
 * against iCloud LAST-MODIFIED or DTSTAMP). A class session is the CRM's: its seats are never taken from iCloud.
 */
export function laterChangeWins(input: { crmModified: Date; icloudModified: Date | null; session: boolean }): 'crm' | 'icloud' {
  if (input.session || !input.icloudModified) return 'crm';
  return input.icloudModified > input.crmModified ? 'icloud' : 'crm';
}
