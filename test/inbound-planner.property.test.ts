import fc from 'fast-check';
import { looksLikeFullListing, planFetch, planInbound, type CrmCopy, type FetchedObject, type InboundPlan, type Listing, type StoredObject } from '../src/sync/inbound.planner';

/** The in-memory model: a remote calendar (href -> etag, content) and the local status (href -> etag, hash). */
type Remote = Map<string, { etag: string; content: string }>;
type Stored = Map<string, StoredObject>;

const HREFS = ['a', 'b', 'c', 'd', 'e', 'f'].map((h) => `https://p01.example/1/calendars/work/${h}.ics`);

/** A random remote edit: what the phone (or the server) did. `touch` changes the etag, not the content. */
const edit = fc.record({
  href: fc.constantFrom(...HREFS),
  kind: fc.constantFrom('put', 'delete', 'touch'),
  content: fc.constantFrom('Lunch', 'Dentist', 'Gym', 'Call'),
});

let etags = 0;
function applyEdits(remote: Remote, edits: { href: string; kind: string; content: string }[]): Remote {
  const next: Remote = new Map(remote);
  for (const e of edits) {
    const old = next.get(e.href);
    if (e.kind === 'delete') next.delete(e.href);
    else if (e.kind === 'touch' && old) next.set(e.href, { etag: `"${++etags}"`, content: old.content });
    else if (e.kind === 'put') next.set(e.href, { etag: `"${++etags}"`, content: e.content });
  }
  return next;
}

/** The listing a correct server gives: since the token (what changed between `before` and `after`), or everything. */
function listingOf(before: Remote, after: Remote, full: boolean): Listing {
  const members = [...after].map(([href, o]) => ({ href, etag: o.etag }));
  if (full) return { kind: 'full', members };
  return {
    kind: 'incremental',
    changed: members.filter((m) => before.get(m.href)?.etag !== m.etag),
    removed: [...before.keys()].filter((h) => !after.has(h)),
  };
}

function fetchFrom(remote: Remote, hrefs: string[], lost: Set<string>): Map<string, FetchedObject> {
  const out = new Map<string, FetchedObject>();
  for (const href of hrefs) {
    const o = remote.get(href);
    if (!o || lost.has(href)) continue; // the server did not return it this time
    out.set(href, { href, etag: o.etag, data: o.content, contentHash: o.content, events: [{ uid: href, summary: o.content, description: null, location: null, start: null, end: null, recurring: false, lastModified: null, busy: [], warnings: [] }] });
  }
  return out;
}

/** What the executor does to the status rows, in the model. */
function apply(stored: Stored, plan: InboundPlan): Stored {
  const next: Stored = new Map(stored);
  for (const a of plan.actions) {
    if (a.type === 'upsertBusy') next.set(a.href, { href: a.href, etag: a.etag, contentHash: a.contentHash });
    if (a.type === 'recordEtag') next.set(a.href, { ...next.get(a.href)!, etag: a.etag });
    if (a.type === 'removeBusy') next.delete(a.href);
  }
  return next;
}

const view = (stored: Stored) => new Map([...stored].map(([h, s]) => [h, { etag: s.etag, content: s.contentHash }]));

/** One sync round as the reader drives the planner. */
function sync(stored: Stored, listing: Listing, remote: Remote, lost: Set<string>, confirmed = false) {
  const fetched = fetchFrom(remote, planFetch(stored, listing), lost);
  const plan = planInbound({ stored, listing, fetched, emptyListingConfirmed: confirmed });
  return { plan, stored: apply(stored, plan) };
}

describe('the inbound planner, against an in-memory model of a calendar', () => {
  it('converges: after a sync with everything fetched, the local status equals the remote calendar', () => {
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 8 }), fc.array(edit, { maxLength: 8 }), fc.boolean(), (first, second, full) => {
        const remote1 = applyEdits(new Map(), first);
        const { stored } = sync(new Map(), listingOf(new Map(), remote1, true), remote1, new Set(), true);
        expect(view(stored)).toEqual(remote1);
        const remote2 = applyEdits(remote1, second);
        const round = sync(stored, listingOf(remote1, remote2, full), remote2, new Set(), true);
        expect(round.plan.advanceToken).toBe(true);
        expect(view(round.stored)).toEqual(remote2);
      }),
    );
  });

  it('loses nothing when objects are not returned: the token stays and the next round catches up', () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 8 }), fc.subarray(HREFS), (edits, lostHrefs) => {
        const remote = applyEdits(new Map(), edits);
        const listing = listingOf(new Map(), remote, false);
        const first = sync(new Map(), listing, remote, new Set(lostHrefs));
        const missed = [...remote.keys()].filter((h) => lostHrefs.includes(h));
        expect(first.plan.advanceToken).toBe(missed.length === 0);
        for (const h of missed) expect(first.stored.has(h)).toBe(false);
        // Not advancing the token means the same listing comes again: now everything arrives.
        const second = sync(first.stored, listing, remote, new Set());
        expect(view(second.stored)).toEqual(remote);
      }),
    );
  });

  it('never removes what the server still has, and never fetches what is unchanged', () => {
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 8 }), fc.array(edit, { maxLength: 8 }), fc.boolean(), (first, second, full) => {
        const remote1 = applyEdits(new Map(), first);
        const stored = sync(new Map(), listingOf(new Map(), remote1, true), remote1, new Set(), true).stored;
        const remote2 = applyEdits(remote1, second);
        const listing = listingOf(remote1, remote2, full);
        for (const href of planFetch(stored, listing)) expect(stored.get(href)?.etag).not.toBe(remote2.get(href)?.etag);
        const { plan } = sync(stored, listing, remote2, new Set(), true);
        for (const a of plan.actions) if (a.type === 'removeBusy') expect(remote2.has(a.href)).toBe(false);
      }),
    );
  });

  it('holds a sudden empty full listing until a second one confirms it', () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 8 }), (edits) => {
        const remote = applyEdits(new Map(), edits);
        fc.pre(remote.size > 0);
        const stored = sync(new Map(), listingOf(new Map(), remote, true), remote, new Set(), true).stored;
        const empty: Listing = { kind: 'full', members: [] };
        const held = sync(stored, empty, new Map(), new Set(), false);
        expect(held.plan.advanceToken).toBe(false);
        expect(held.stored).toEqual(stored);
        expect(sync(stored, empty, new Map(), new Set(), true).stored.size).toBe(0);
      }),
    );
  });

  it('recognises a full listing answered to an expired token when at most half of four or more stored objects changed', () => {
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 12 }), fc.array(edit, { maxLength: 3 }), (first, second) => {
        const remote1 = applyEdits(new Map(), first);
        const stored = sync(new Map(), listingOf(new Map(), remote1, true), remote1, new Set(), true).stored;
        const remote2 = applyEdits(remote1, second);
        const honest = listingOf(remote1, remote2, false) as Extract<Listing, { kind: 'incremental' }>;
        // A genuine incremental answer is never mistaken for a full one: it repeats no stored etag.
        expect(looksLikeFullListing(stored, honest.changed)).toBe(false);
        const touched = new Set([...honest.changed.map((m) => m.href), ...honest.removed]);
        fc.pre(stored.size >= 4 && touched.size * 2 <= stored.size);
        const posing = listingOf(new Map(), remote2, false) as Extract<Listing, { kind: 'incremental' }>;
        expect(looksLikeFullListing(stored, posing.changed)).toBe(true);
      }),
    );
  });

  it('never lets iCloud delete or overwrite a CRM appointment it should not: deletions are recorded, pending CRM changes win', () => {
    const copyOf = fc.record({ href: fc.constantFrom(...HREFS), pendingPush: fc.boolean(), session: fc.boolean() });
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 8 }), fc.array(edit, { maxLength: 8 }), fc.uniqueArray(copyOf, { selector: (c) => c.href, maxLength: 4 }), fc.boolean(), (first, second, copyList, full) => {
        const remote1 = applyEdits(new Map(), first);
        const stored = sync(new Map(), listingOf(new Map(), remote1, true), remote1, new Set(), true).stored;
        const copies = new Map<string, CrmCopy>(
          copyList.filter((c) => remote1.has(c.href)).map((c) => [c.href, { href: c.href, syncKey: c.session ? `class:cal:${c.href}` : `appt:${c.href}`, contentHash: remote1.get(c.href)!.content, pendingPush: c.pendingPush }]),
        );
        const remote2 = applyEdits(remote1, second);
        const listing = listingOf(remote1, remote2, full);
        const plan = planInbound({ stored, listing, fetched: fetchFrom(remote2, planFetch(stored, listing), new Set()), emptyListingConfirmed: true, copies });
        for (const [href, copy] of copies) {
          const mine = plan.actions.filter((a) => 'href' in a && a.href === href).map((a) => a.type);
          const now = remote2.get(href);
          if (!now) expect(mine).toContain('recordDeletedInICloud');
          else if (now.content === copy.contentHash || copy.pendingPush) expect(mine.filter((t) => t === 'updateAppointmentFromICloud' || t === 'pushToICloud')).toEqual([]);
          else expect(mine).toEqual([copy.syncKey.startsWith('class:') ? 'pushToICloud' : 'updateAppointmentFromICloud']);
        }
        for (const a of plan.actions) if (a.type === 'recordDeletedInICloud') expect(copies.has(a.href) && !remote2.has(a.href)).toBe(true);
      }),
    );
  });
});
