import fc from 'fast-check';
import { planFetch, planInbound, type CrmCopy, type FetchedObject, type StoredObject } from '../src/sync/inbound.planner';
import { laterChangeWins, planPush } from '../src/sync/push.planner';

/**
 * Both planners driven against an in-memory model of one CRM appointment and one iCloud calendar
 * (vdirsyncer's approach): random edits on both sides, failing and half-done writes, deletions. The model
 * server honours If-Match and If-None-Match as CalDAV does; the model executor does what pushCopy and
 * applyInbound do with each action.
 */
const HREF = 'https://p01.example/1/calendars/work/crm-copy.ics';

interface World {
  t: number;
  crm: { content: string; modified: number; cancelled: boolean; cancelledByCrm: boolean };
  server: Map<string, { etag: string; content: string; modified: number }>;
  link: { href: string | null; etag: string | null; contentHash: string | null; calendarHref: string | null; deletedInICloud: boolean; pending: boolean };
  stored: Map<string, StoredObject>;
  etags: number;
}

const fresh = (): World => ({
  t: 1,
  crm: { content: 'c1', modified: 1, cancelled: false, cancelledByCrm: false },
  server: new Map(),
  link: { href: null, etag: null, contentHash: null, calendarHref: null, deletedInICloud: false, pending: true },
  stored: new Map(),
  etags: 0,
});

type Failure = 'none' | 'unavailable' | 'lostReply';

function put(w: World, content: string, modified: number): string {
  const etag = `"${++w.etags}"`;
  w.server.set(HREF, { etag, content, modified });
  return etag;
}

/** One push of the copy, as pushCopy does it, against the model server. */
function push(w: World, failure: Failure): void {
  if (!w.link.pending) return;
  const desired = w.crm.cancelled ? null : w.crm.content;
  const action = planPush({ primary: 'connected', primaryHref: 'work', desiredHash: desired, link: w.link });
  // Write-ahead of the href before a create's PUT, as pushCopy does.
  if (action.type === 'create') Object.assign(w.link, { href: HREF, calendarHref: 'work', etag: null, contentHash: null });
  if (failure === 'unavailable' && (action.type === 'create' || action.type === 'update' || action.type === 'delete')) return; // 503: retried later
  const done = (etag: string | null, hash: string | null) => {
    if (failure === 'lostReply') return; // written, but the answer never came: the entry stays pending
    Object.assign(w.link, { href: hash ? HREF : null, etag, contentHash: hash, calendarHref: hash ? 'work' : null, pending: false });
    if (hash && etag) w.stored.set(HREF, { href: HREF, etag, contentHash: hash });
    else w.stored.delete(HREF);
  };
  switch (action.type) {
    case 'markSynced':
    case 'forget':
    case 'keepDeletedInICloud':
      if (action.type === 'forget') Object.assign(w.link, { href: null, etag: null, contentHash: null });
      w.link.pending = false;
      return;
    case 'create':
      // If-None-Match, and a 412 (ours, from a lost answer) updates what is there.
      return done(put(w, desired!, w.crm.modified), desired);
    case 'update': {
      const current = w.server.get(action.href);
      if (current?.etag === action.etag) return done(put(w, desired!, w.crm.modified), desired);
      if (!current) {
        Object.assign(w.link, { href: null, etag: null, contentHash: null, deletedInICloud: true, pending: false });
        return;
      }
      if (laterChangeWins({ crmModified: new Date(w.crm.modified), icloudModified: new Date(current.modified), session: false }) === 'crm') {
        return done(put(w, desired!, w.crm.modified), desired);
      }
      Object.assign(w.crm, { content: current.content, modified: current.modified });
      Object.assign(w.link, { etag: current.etag, contentHash: current.content, pending: false });
      return;
    }
    case 'delete': {
      // If-Match; on 412 the cancel is the later change: delete what is there now.
      w.server.delete(action.href);
      return done(null, null);
    }
    default:
      throw new Error(`unexpected ${action.type}`);
  }
}

/** One inbound sync of the calendar (full listing), as readCalendar and applyInbound do it. */
function inbound(w: World): void {
  const listing = { kind: 'full' as const, members: [...w.server].map(([href, o]) => ({ href, etag: o.etag })) };
  const fetched = new Map<string, FetchedObject>();
  for (const href of planFetch(w.stored, listing)) {
    const o = w.server.get(href)!;
    fetched.set(href, { href, etag: o.etag, data: o.content, contentHash: o.content, events: [{ uid: 'x', summary: o.content, description: null, location: null, start: null, end: null, recurring: false, lastModified: new Date(o.modified), busy: [], warnings: [] }] });
  }
  const copies = new Map<string, CrmCopy>(w.link.href ? [[w.link.href, { href: w.link.href, syncKey: 'appt:x', contentHash: w.link.contentHash, pendingPush: w.link.pending }]] : []);
  const plan = planInbound({ stored: w.stored, listing, fetched, emptyListingConfirmed: true, copies });
  for (const a of plan.actions) {
    if (a.type === 'upsertBusy') w.stored.set(a.href, { href: a.href, etag: a.etag, contentHash: a.contentHash });
    if (a.type === 'recordEtag') w.stored.set(a.href, { ...w.stored.get(a.href)!, etag: a.etag });
    if (a.type === 'removeBusy') w.stored.delete(a.href);
    if (a.type === 'updateAppointmentFromICloud') {
      Object.assign(w.crm, { content: a.data, modified: w.server.get(a.href)!.modified });
      Object.assign(w.link, { etag: a.etag, contentHash: a.contentHash });
      w.stored.set(a.href, { href: a.href, etag: a.etag, contentHash: a.contentHash });
    }
    if (a.type === 'recordDeletedInICloud') Object.assign(w.link, { href: null, etag: null, contentHash: null, deletedInICloud: true });
  }
}

const step = fc.oneof(
  fc.constant({ kind: 'crmEdit' as const }),
  fc.constant({ kind: 'crmCancel' as const }),
  fc.constant({ kind: 'icloudEdit' as const }),
  fc.constant({ kind: 'icloudDelete' as const }),
  fc.record({ kind: fc.constant('push' as const), failure: fc.constantFrom<Failure>('none', 'unavailable', 'lostReply') }),
  fc.constant({ kind: 'inbound' as const }),
);

type Step = { kind: 'crmEdit' | 'crmCancel' | 'icloudEdit' | 'icloudDelete' | 'inbound' } | { kind: 'push'; failure: Failure };

function run(w: World, steps: Step[]): void {
  for (const s of steps) {
    w.t++;
    if (s.kind === 'crmEdit' && !w.crm.cancelled) Object.assign(w.crm, { content: `c${w.t}`, modified: w.t }), (w.link.pending = true);
    if (s.kind === 'crmCancel' && !w.crm.cancelled) Object.assign(w.crm, { cancelled: true, cancelledByCrm: true, modified: w.t }), (w.link.pending = true);
    if (s.kind === 'icloudEdit' && w.server.has(HREF)) put(w, `i${w.t}`, w.t);
    if (s.kind === 'icloudDelete') w.server.delete(HREF);
    if (s.kind === 'push') push(w, (s as { failure: Failure }).failure);
    if (s.kind === 'inbound') inbound(w);
  }
}

describe('both planners against an in-memory CRM and iCloud', () => {
  it('converge once writes succeed again, lose no appointment, and never let iCloud cancel one', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
        const w = fresh();
        run(w, steps);
        for (let i = 0; i < 4; i++) run(w, [{ kind: 'push', failure: 'none' }, { kind: 'inbound' }]);
        // Only the CRM cancels appointments; deletions in iCloud are recorded, never propagated.
        expect(w.crm.cancelled).toBe(w.crm.cancelledByCrm);
        // Never more than the one copy, never duplicated.
        expect(w.server.size).toBeLessThanOrEqual(1);
        if (w.crm.cancelled || w.link.deletedInICloud) expect(w.server.has(HREF) && !w.crm.cancelled && !w.link.deletedInICloud).toBe(false);
        else expect(w.server.get(HREF)?.content).toBe(w.crm.content);
        if (w.crm.cancelled) expect(w.server.size).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
