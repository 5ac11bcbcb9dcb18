import type { ParsedEvent } from '../ical/calendar-object';
import { isSessionKey } from '../sync-key';

/** What is stored of one href since the last sync (the status row). */
export interface StoredObject {
  href: string;
  etag: string;
  contentHash: string;
}

/** A listed member: href and etag. */
export interface ListedMember {
  href: string;
  etag: string;
}

/**
 * What the server said changed. `incremental`: members changed since the token and hrefs reported 404.
 * `full`: every member; whatever is stored and not listed is gone.
 */
export type Listing =
  | { kind: 'incremental'; changed: ListedMember[]; removed: string[] }
  | { kind: 'full'; members: ListedMember[] };

/** A fetched object, already parsed (or found malformed) by the fetch stage. */
export type FetchedObject =
  | { href: string; etag: string; data: string; contentHash: string; events: ParsedEvent[] }
  | { href: string; etag: string; malformed: string; label: string };

/** A copy of CRM appointments this server pushed, as its sync link knows it. */
export interface CrmCopy {
  href: string;
  syncKey: string;
  /** Hash of what we last wrote or accepted. */
  contentHash: string | null;
  /** A CRM change is waiting in the outbox: the push settles it by the later-change rule on its 412. */
  pendingPush: boolean;
}

export type InboundAction =
  | { type: 'upsertBusy'; change: 'created' | 'updated'; href: string; etag: string; data: string; contentHash: string; events: ParsedEvent[] }
  | { type: 'recordEtag'; href: string; etag: string }
  | { type: 'removeBusy'; href: string }
  | { type: 'skipMalformed'; href: string; etag: string; reason: string; label: string }
  | { type: 'updateAppointmentFromICloud'; href: string; etag: string; data: string; contentHash: string; syncKey: string; event: ParsedEvent; linkHash: string | null }
  | { type: 'pushToICloud'; href: string; etag: string; syncKey: string; linkHash: string | null }
  | { type: 'recordDeletedInICloud'; href: string; syncKey: string }
  | { type: 'holdMassDeletion'; stored: number };

export interface InboundPlan {
  actions: InboundAction[];
  /** False when something listed could not be fetched or a mass deletion is held: the old token stays. */
  advanceToken: boolean;
  /** Listed as changed but not returned by the fetch: retried from the old token next time. */
  unfetched: string[];
  /** True when a full listing came back empty while events are stored (see `emptyListingConfirmed`). */
  emptyListing: boolean;
}

/** Returns the hrefs whose content must be fetched: listed with an etag other than the stored one. */
export function planFetch(stored: ReadonlyMap<string, StoredObject>, listing: Listing): string[] {
  const listed = listing.kind === 'full' ? listing.members : listing.changed;
  return listed.filter((m) => stored.get(m.href)?.etag !== m.etag).map((m) => m.href);
}

/**
 * A listing that reports most stored members as "changed" with their stored etag is no incremental
 * answer: iCloud answers an expired token with a full listing (CALDAV-FACTS.md). It must be confirmed
 * with a full listing, or deletions would be missed.
 */
export function looksLikeFullListing(stored: ReadonlyMap<string, StoredObject>, changed: ListedMember[]): boolean {
  const unchanged = changed.filter((m) => stored.get(m.href)?.etag === m.etag).length;
  return unchanged >= 2 && unchanged * 2 >= stored.size;
}

/**
 * Decides what to do for every href of one calendar (decide, then apply: the executor does the I/O).
 * Pure: same input, same plan. `emptyListingConfirmed` is true when the previous run also saw the
 * calendar empty.
 */
export function planInbound(input: {
  stored: ReadonlyMap<string, StoredObject>;
  listing: Listing;
  fetched: ReadonlyMap<string, FetchedObject>;
  emptyListingConfirmed: boolean;
  /** Pushed copies of CRM appointments in this calendar, by href. */
  copies?: ReadonlyMap<string, CrmCopy>;
  /** Listed members an earlier part of the same run decided and applied (a large fetch is applied in parts). */
  handled?: ReadonlySet<string>;
}): InboundPlan {
  const { stored, listing, fetched } = input;
  const copies = input.copies ?? new Map<string, CrmCopy>();
  const listed = listing.kind === 'full' ? listing.members : listing.changed;

  // What a full listing must list: the stored objects, and our copies with no push under way, stored or not
  // (a copy whose etag never came back has no status row). One it lacks was deleted in iCloud: without the
  // copies, a full listing missed such a deletion and the copy stayed SYNCED (found by the two-way property test).
  const known = listing.kind === 'full' ? new Set([...stored.keys(), ...[...copies.values()].filter((c) => !c.pendingPush).map((c) => c.href)]) : new Set(stored.keys());

  // A calendar that had events and now lists none: a wrong URL or a server bug, not the user emptying it.
  // Keep everything until a later run confirms (vdirsyncer's "storage is empty" safety).
  const emptyListing = listing.kind === 'full' && listed.length === 0 && known.size > 0;
  if (emptyListing && !input.emptyListingConfirmed) {
    return { actions: [{ type: 'holdMassDeletion', stored: known.size }], advanceToken: false, unfetched: [], emptyListing };
  }

  const actions: InboundAction[] = [];
  const unfetched: string[] = [];
  const listedHrefs = new Set(listed.map((m) => m.href));
  const gone = listing.kind === 'full' ? [...known].filter((h) => !listedHrefs.has(h)) : listing.removed;

  for (const href of new Set(gone)) {
    const copy = copies.get(href);
    // A CRM appointment's copy deleted in iCloud: never delete the appointment; the user is told and decides.
    if (copy) actions.push({ type: 'recordDeletedInICloud', href, syncKey: copy.syncKey });
    // Stored, now deleted in iCloud: its busy time goes.
    if (stored.has(href)) actions.push({ type: 'removeBusy', href });
    // Never seen and deleted: nothing to do.
  }

  for (const member of listed) {
    // Decided by an earlier part of this run, from the object fetched with it.
    if (input.handled?.has(member.href)) continue;
    const old = stored.get(member.href);
    const got = fetched.get(member.href);
    // Same etag as stored: unchanged (or our own write, already recorded).
    if (old?.etag === member.etag) continue;
    // Listed but not returned by the fetch (deleted in between, or a server hiccup): retry from the old token.
    if (!got) {
      unfetched.push(member.href);
      continue;
    }
    const copy = copies.get(member.href);
    // Cannot be parsed: skip it with a warning naming it; the rest of the calendar syncs.
    if ('malformed' in got) actions.push({ type: 'skipMalformed', href: got.href, etag: got.etag, reason: got.malformed, label: got.label });
    // Our copy, content as we wrote it (our own write, a reformat): only the etag changes, no echo update.
    else if (copy && old && copy.contentHash === got.contentHash) actions.push({ type: 'recordEtag', href: got.href, etag: got.etag });
    // Our copy changed on both sides: leave it to the pending push, whose 412 applies the later-change rule.
    else if (copy?.pendingPush) continue;
    // A class session edited in iCloud: the CRM owns its seats and time, so the session is written back.
    else if (copy && isSessionKey(copy.syncKey)) actions.push({ type: 'pushToICloud', href: got.href, etag: got.etag, syncKey: copy.syncKey, linkHash: copy.contentHash });
    // An appointment moved or edited on the iPhone: the CRM follows.
    else if (copy) actions.push({ type: 'updateAppointmentFromICloud', href: got.href, etag: got.etag, data: got.data, contentHash: got.contentHash, syncKey: copy.syncKey, event: got.events[0], linkHash: copy.contentHash });
    // New in iCloud: store it and its busy time.
    else if (!old) actions.push({ type: 'upsertBusy', change: 'created', ...got });
    // New etag, same meaning (server reformat, our own write): only the etag changes.
    else if (old.contentHash === got.contentHash) actions.push({ type: 'recordEtag', href: got.href, etag: got.etag });
    // Changed in iCloud: replace its busy time.
    else actions.push({ type: 'upsertBusy', change: 'updated', ...got });
  }
  return { actions, advanceToken: unfetched.length === 0, unfetched, emptyListing };
}
