import { SCOPE, SNAPSHOT, SUBSCRIPTIONS } from './queries';
import { createClient, type Client } from 'graphql-ws/client';
import { bearer, claimsOf, forgetToken, storedToken, storeToken, takeTokenFromFragment, wsUrl } from '../shared/token';
import './dashboard.css';

/*
 * The live status dashboard: one graphql-ws connection (same path as HTTP) carries the snapshot queries and the
 * three subscriptions. The snapshot is read again whenever the connection (re)opens, so nothing missed while it
 * was down stays missing.
 */

type Outcome = 'SUCCESS' | 'PARTIAL' | 'FAILED';
type Status = 'CONNECTED' | 'DISCONNECTED' | 'ERROR' | 'NEEDS_RECONNECT';

interface SyncRun {
  id: string;
  integrationId: string;
  outcome: Outcome;
  startedAt: string;
  finishedAt: string | null;
  nextSyncAt: string | null;
  requests: number;
  created: number;
  updated: number;
  deleted: number;
  warnings: string[];
  error: string | null;
}
interface Integration {
  id: string;
  accountEmail: string | null;
  status: Status | null;
  statusMessage: string | null;
  lastSyncedAt: string | null;
  nextSyncAt: string | null;
  recentSyncRuns: SyncRun[];
  /** CRM user and tenant, when known (the viewer's own, or from an admin's or support's scope). */
  userId?: string;
  tenantId?: string;
}
interface Warning {
  id: string;
  kind: string;
  message: string;
  userId: string;
  appointmentId: string | null;
  startsAt: string | null;
  endsAt: string | null;
  createdAt: string;
  resolved: boolean;
}

/** At most this many pages are shown (1,000 integrations); 40 a page keeps a page within the query cost limit. */
const MAX_SCOPE_PAGES = 25;
/**
 * After a sync run the scope is read again at most this often: live events keep the rows current meanwhile, and
 * a support dashboard over a thousand integrations would otherwise read them all after every run.
 */
const SCOPE_EVERY_MS = 30000;
let scopeReadAt = 0;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const state = {
  token: undefined as string | undefined,
  viewer: undefined as { id: string; role: string; tenantId: string } | undefined,
  integrations: new Map<string, Integration>(),
  warnings: new Map<string, Warning>(),
  changed: new Set<string>(),
  openDetails: new Set<string>(),
};
let client: Client | undefined;
let stops: (() => void)[] = [];
let everConnected = false;
let refreshTimer: number | undefined;

// ---------- rendering ----------

type Child = Node | string | null | undefined | false;
function h(tag: string, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== false) el.setAttribute(k, v === true ? '' : v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const shortTime = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

function ago(iso: string): string {
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 10) return seconds <= 0 ? 'just now' : 'in a few seconds';
  if (abs < 90) return relative.format(seconds, 'second');
  if (abs < 5400) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 129600) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86400), 'day');
}

function when(iso: string | null | undefined, empty = 'Never'): Node {
  if (!iso) return document.createTextNode(empty);
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return h('time', { datetime: iso, title: d.toISOString() }, sameDay ? timeFormat.format(d) : dateTimeFormat.format(d), h('span', { class: 'sub' }, ago(iso)));
}

const STATUS: Record<Status, [string, string]> = {
  CONNECTED: ['Connected', 'ok'],
  ERROR: ['Error', 'bad'],
  NEEDS_RECONNECT: ['Needs reconnect', 'warn'],
  DISCONNECTED: ['Disconnected', 'off'],
};
const OUTCOME: Record<Outcome, [string, string]> = { SUCCESS: ['Success', 'ok'], PARTIAL: ['Partial', 'warn'], FAILED: ['Failed', 'bad'] };
const badge = ([text, tone]: [string, string]) => h('span', { class: `badge ${tone}` }, text);

function nextSync(i: Integration): Node {
  if (i.status === 'DISCONNECTED') return document.createTextNode('Not scheduled (disconnected)');
  if (i.status === 'NEEDS_RECONNECT') return document.createTextNode('Paused until the user reconnects');
  // The server's own schedule: the interval after a success, the backoff after failures.
  if (!i.nextSyncAt) return document.createTextNode('Soon');
  if (new Date(i.nextSyncAt).getTime() <= Date.now()) return document.createTextNode('Due now');
  return h('span', {}, i.status === 'ERROR' ? 'Retry ' : 'About ', when(i.nextSyncAt));
}

function detailsOf(key: string, summary: string, items: string[]): HTMLElement {
  const details = h('details', { 'data-key': key, open: state.openDetails.has(key) }, h('summary', {}, summary), h('ul', {}, ...items.map((w) => h('li', {}, w))));
  details.addEventListener('toggle', () => ((details as HTMLDetailsElement).open ? state.openDetails.add(key) : state.openDetails.delete(key)));
  return details;
}

function row(i: Integration): HTMLElement {
  const run = i.recentSyncRuns[0];
  const problems: Child[] = [];
  if (run?.error) problems.push(h('span', { class: 'run-error' }, run.error));
  if (run?.warnings.length) problems.push(detailsOf(`${run.id}:w`, `${run.warnings.length} warning${run.warnings.length === 1 ? '' : 's'}`, run.warnings));
  if (!problems.length) problems.push(run ? 'None' : '');
  const cell = (label: string, ...children: Child[]) => h('td', { 'data-label': label }, ...children);
  return h(
    'tr',
    { 'data-integration-id': i.id, class: state.changed.has(i.id) ? 'changed' : undefined },
    h('th', { scope: 'row' }, i.accountEmail ?? `Integration ${i.id.slice(0, 8)}`, i.userId ? h('span', { class: 'sub' }, `User ${i.userId}${i.tenantId && i.tenantId !== state.viewer?.tenantId ? ` (${i.tenantId})` : ''}`) : null),
    cell('Status', i.status ? badge(STATUS[i.status]) : 'Unknown', i.statusMessage ? h('span', { class: 'message' }, i.statusMessage) : null),
    cell('Last sync', when(i.lastSyncedAt)),
    cell('Next sync', nextSync(i)),
    cell('Last run', run ? h('span', {}, badge(OUTCOME[run.outcome]), ' ', when(run.finishedAt ?? run.startedAt)) : 'No run yet'),
    cell('Changes', run ? h('span', { class: 'num' }, `${run.created} created · ${run.updated} updated · ${run.deleted} deleted`) : '—'),
    cell('Requests', run ? h('span', { class: 'num' }, String(run.requests)) : '—'),
    cell('Error and warnings', ...problems),
  );
}

const KIND: Record<string, string> = { DOUBLE_BOOKING: 'Double booking', EDIT_CONFLICT: 'Edit conflict', DELETED_IN_ICLOUD: 'Deleted in iCloud' };

function warningItem(w: Warning): HTMLElement {
  const span = w.startsAt ? `${dateTimeFormat.format(new Date(w.startsAt))}${w.endsAt ? ` – ${shortTime.format(new Date(w.endsAt))}` : ''}` : undefined;
  return h(
    'li',
    { 'data-warning-id': w.id, class: state.changed.has(w.id) ? 'changed' : undefined },
    h('span', { class: `badge ${w.kind === 'DOUBLE_BOOKING' ? 'bad' : 'warn'}` }, KIND[w.kind] ?? w.kind),
    ' ',
    w.message,
    h('span', { class: 'meta' }, `User ${w.userId}`, span ? ` · ${span}` : '', ' · raised ', when(w.createdAt)),
  );
}

/** Re-renders the lists; keyboard focus on an expandable part of a row or warning stays where it was. */
function render(): void {
  const focusedKey = (document.activeElement?.closest('[data-key]') as HTMLElement | null)?.dataset.key;
  const integrations = [...state.integrations.values()].sort((a, b) => (a.userId ?? '').localeCompare(b.userId ?? '') || (a.accountEmail ?? a.id).localeCompare(b.accountEmail ?? b.id));
  $('integration-rows').replaceChildren(...integrations.map(row));
  $('integration-count').textContent = `(${integrations.length})`;
  $('no-integrations').hidden = integrations.length > 0;
  const warnings = [...state.warnings.values()].filter((w) => !w.resolved).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  $('warnings').replaceChildren(...warnings.map(warningItem));
  $('warning-count').textContent = `(${warnings.length})`;
  $('no-warnings').hidden = warnings.length > 0;
  state.changed.clear();
  if (focusedKey) document.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusedKey)}"] summary`)?.focus();
}

/** Ages the relative times ("2 minutes ago") in place, without re-rendering (focus and scroll stay). */
function refreshTimes(): void {
  for (const t of document.querySelectorAll<HTMLTimeElement>('time[datetime]')) {
    const sub = t.querySelector('.sub');
    if (sub) sub.textContent = ago(t.dateTime);
  }
}

function announce(text: string): void {
  const region = $('announcer');
  region.append(h('p', {}, text));
  while (region.childElementCount > 5) region.firstElementChild!.remove();
}

type Connection = 'signed-out' | 'connecting' | 'live' | 'lost' | 'restored';
const CONNECTION_TEXT: Record<Connection, string> = {
  'signed-out': 'Not signed in',
  connecting: 'Connecting…',
  live: 'Live: updates appear as they happen',
  lost: 'Connection lost: reconnecting… (what you see may be out of date)',
  restored: 'Connection is back: live again',
};
function setConnection(s: Connection, detail?: string): void {
  const el = $('connection');
  el.dataset.state = s;
  el.textContent = detail ? `${CONNECTION_TEXT[s]} ${detail}` : CONNECTION_TEXT[s];
}

// ---------- data ----------

function mergeIntegration(incoming: Integration, userId?: string): void {
  const known = state.integrations.get(incoming.id);
  const runs = incoming.recentSyncRuns ?? known?.recentSyncRuns ?? [];
  state.integrations.set(incoming.id, { ...known, ...incoming, recentSyncRuns: runs, userId: userId ?? known?.userId });
  state.changed.add(incoming.id);
}

function applyRun(run: SyncRun): void {
  const known = state.integrations.get(run.integrationId) ?? {
    id: run.integrationId, accountEmail: null, status: null, statusMessage: null, lastSyncedAt: null, nextSyncAt: null, recentSyncRuns: [],
  };
  const runs = [run, ...known.recentSyncRuns.filter((r) => r.id !== run.id)].slice(0, 5);
  state.integrations.set(run.integrationId, { ...known, recentSyncRuns: runs, nextSyncAt: run.nextSyncAt, lastSyncedAt: run.outcome === 'FAILED' ? known.lastSyncedAt : run.finishedAt ?? known.lastSyncedAt });
  state.changed.add(run.integrationId);
}

function applyWarning(w: Warning): void {
  if (w.resolved) state.warnings.delete(w.id);
  else state.warnings.set(w.id, w);
  state.changed.add(w.id);
}

/** Runs a query over the WebSocket; rejects with the GraphQL errors' messages. */
function request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    if (!client) return reject(new Error('Not connected.'));
    let result: { data?: unknown; errors?: readonly { message: string }[] } | undefined;
    client.subscribe(
      { query, variables },
      {
        next: (r) => void (result = r as typeof result),
        error: (e) => reject(e instanceof Error ? e : new Error(closeReason(e) ?? 'The request failed.')),
        complete: () => (result?.errors?.length ? reject(new Error(result.errors.map((e) => e.message).join(' '))) : resolve(result?.data as T)),
      },
    );
  });
}

function closeReason(e: unknown): string | undefined {
  return typeof e === 'object' && e && 'reason' in e ? String((e as { reason: unknown }).reason) || undefined : undefined;
}

/** Reads the current state: the viewer's own, and an admin's or support's scope when `full` or when it is due. */
async function refresh(full = true): Promise<void> {
  const snapshot = await request<{ viewer: { id: string; role: string; tenantId: string }; calendarIntegrations: Integration[]; conflictWarnings: Warning[] }>(SNAPSHOT);
  state.viewer = snapshot.viewer;
  const seen = new Set<string>();
  for (const i of snapshot.calendarIntegrations) {
    mergeIntegration(i, snapshot.viewer.id);
    seen.add(i.id);
  }
  const warnings = [...snapshot.conflictWarnings];
  // A tenant admin sees the tenant, support every tenant: their integrations, each with its owner's open warnings.
  const scoped = snapshot.viewer.role === 'admin' || snapshot.viewer.role === 'support';
  const readScope = scoped && (full || Date.now() - scopeReadAt >= SCOPE_EVERY_MS);
  if (readScope) {
    scopeReadAt = Date.now();
    let after: string | null = null;
    for (let page = 0; page < MAX_SCOPE_PAGES; page++) {
      const scope: { supportIntegrations: { nodes: (Integration & { userId: string; tenantId: string; openConflictWarnings: Warning[] })[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await request(SCOPE, { after });
      for (const { openConflictWarnings, ...i } of scope.supportIntegrations.nodes) {
        mergeIntegration(i, i.userId);
        seen.add(i.id);
        warnings.push(...openConflictWarnings);
      }
      if (!scope.supportIntegrations.pageInfo.hasNextPage) break;
      after = scope.supportIntegrations.pageInfo.endCursor;
    }
  }
  // Rows of what was read that are gone were disconnected elsewhere; rows known only from events stay.
  for (const [id, i] of state.integrations) if (!seen.has(id) && i.userId && (readScope || i.userId === snapshot.viewer.id)) state.integrations.delete(id);
  // Without the scope read again, the warnings of others stay as the events left them.
  if (readScope || !scoped) state.warnings = new Map(warnings.map((w) => [w.id, w]));
  else for (const w of warnings) state.warnings.set(w.id, w);
  state.changed.clear();
  showViewer();
  render();
}

/** A sync run may change the status message and last sync time too: read the snapshot again, once per burst. */
function scheduleRefresh(): void {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => void refresh(false).catch(() => undefined), 500);
}

function subscribe<T>(query: string, onData: (data: T) => void): void {
  if (!client) return;
  stops.push(
    client.subscribe(
      { query },
      {
        next: (r) => {
          if (r.data) onData(r.data as T);
          if (r.errors?.length) announce(`Subscription error: ${r.errors.map((e) => e.message).join(' ')}`);
        },
        error: () => undefined, // the connection state says it
        complete: () => undefined,
      },
    ),
  );
}

function showViewer(): void {
  const claims = state.token ? claimsOf(state.token) : undefined;
  const v = state.viewer;
  $('who-text').textContent = v ? `Signed in as ${v.id} (${v.role}, ${v.tenantId})` : claims?.sub ? `Signed in as ${claims.sub}` : 'Signed in';
  $('who').hidden = false;
}

// ---------- session ----------

function signIn(token: string): void {
  signOut(undefined, false);
  state.token = token;
  storeToken(token);
  $('sign-in').hidden = true;
  $('board').hidden = false;
  showViewer();
  setConnection('connecting');
  everConnected = false;
  client = createClient({
    url: wsUrl(),
    connectionParams: () => ({ authorization: bearer(state.token ?? '') }),
    lazy: false,
    keepAlive: 15000,
    retryAttempts: Infinity,
    // 1 s, 2 s, 4 s … at most 30 s between attempts, with jitter.
    retryWait: (retries) => new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** retries) + Math.random() * 1000)),
    shouldRetry: () => true,
    onNonLazyError: () => undefined,
    on: {
      connecting: () => {
        if (!everConnected) setConnection('connecting');
      },
      connected: () => {
        const again = everConnected;
        everConnected = true;
        setConnection(again ? 'restored' : 'live');
        if (again) {
          announce('Connection is back: live again.');
          // After a while "back" is just "live" again.
          window.setTimeout(() => $('connection').dataset.state === 'restored' && setConnection('live'), 20000);
        }
        refresh().catch((e: Error) => announce(`Cannot read the current state: ${e.message}`));
      },
      closed: (event) => {
        const code = (event as CloseEvent | undefined)?.code;
        if (code === 4401 || code === 4403) return signOut(closeReason(event) ?? 'The token was refused.');
        if (client && everConnected) {
          setConnection('lost');
          announce('Connection lost: reconnecting.');
        }
      },
    },
  });
  subscribe<{ syncResults: SyncRun }>(SUBSCRIPTIONS.runs, ({ syncResults: run }) => {
    applyRun(run);
    render();
    const i = state.integrations.get(run.integrationId);
    announce(`Sync of ${i?.accountEmail ?? 'an account'} finished: ${OUTCOME[run.outcome][0]}, ${run.created} created, ${run.updated} updated, ${run.deleted} deleted.`);
    scheduleRefresh();
  });
  subscribe<{ integrationStatusChanged: Integration }>(SUBSCRIPTIONS.status, ({ integrationStatusChanged: i }) => {
    mergeIntegration(i);
    render();
    announce(`${i.accountEmail}: ${i.status ? STATUS[i.status][0] : 'status changed'}.`);
  });
  subscribe<{ conflictWarnings: Warning }>(SUBSCRIPTIONS.warnings, ({ conflictWarnings: w }) => {
    applyWarning(w);
    render();
    announce(`New warning: ${w.message}`);
  });
}

function signOut(reason?: string, clear = true): void {
  for (const stop of stops) stop();
  stops = [];
  const old = client;
  client = undefined;
  // dispose() rejects with the close event when the socket never opened (a refused token): nothing to report.
  Promise.resolve(old?.dispose()).catch(() => undefined);
  window.clearTimeout(refreshTimer);
  if (!clear) return;
  state.token = undefined;
  state.viewer = undefined;
  state.integrations.clear();
  state.warnings.clear();
  forgetToken();
  $('board').hidden = true;
  $('who').hidden = true;
  $('sign-in').hidden = false;
  $('token-error').textContent = reason ? `Signed out: ${reason}` : '';
  setConnection('signed-out');
  render();
  if (reason) $<HTMLInputElement>('token').focus();
}

function start(): void {
  $('sign-in-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $<HTMLInputElement>('token');
    const token = input.value.trim();
    if (!token) return;
    input.value = '';
    $('token-error').textContent = '';
    signIn(token);
    $('main').focus();
  });
  $('sign-out').addEventListener('click', () => {
    signOut();
    $<HTMLInputElement>('token').focus();
  });
  window.addEventListener('hashchange', () => {
    const token = takeTokenFromFragment();
    if (token) signIn(token);
  });
  // Relative times ("2 minutes ago", "due now") age while nothing happens.
  window.setInterval(refreshTimes, 15000);
  const token = takeTokenFromFragment() ?? storedToken();
  if (token) signIn(token);
  else $<HTMLInputElement>('token').focus();
}

start();
