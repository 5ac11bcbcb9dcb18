import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Locator, type Page, type WebSocketRoute } from 'playwright-core';
import { startTestApp, dataOf, type TestApp } from '../dev/app';
import { radicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { at, crmFixture, nextWeekday, type CrmFixture } from '../dev/crm-fixture';
import { vevent } from '../dev/phone';
import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { loadConfig } from '../src/config';

/**
 * The browser pages, in Debian's Chromium driven by playwright-core: the dashboard follows what the reconciler
 * does without a reload, and GraphiQL runs a query and a subscription; every request that would leave 127.0.0.1
 * is blocked and recorded (there must be none). Screenshots go to test-artifacts/.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = join(__dirname, '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00' }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stamp = (d: Date) => d.toISOString().replace('.000', '');

/** Waits until the locator's text matches (playwright-core has no `expect`). */
async function textOf(locator: Locator, wanted: string | RegExp, timeoutMs = 15000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = await locator.innerText({ timeout: 1000 }).catch(() => '');
    if (typeof wanted === 'string' ? text.includes(wanted) : wanted.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${wanted}; text is: ${text}`);
    await sleep(100);
  }
}

/** A browser context where only 127.0.0.1 answers: every other request (HTTP or WebSocket) is recorded and refused. */
async function offlineContext(browser: Browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, serviceWorkers: 'block' });
  const outside: string[] = [];
  const urls: string[] = [];
  const sockets: WebSocketRoute[] = [];
  const consoleErrors: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    urls.push(url.href);
    if (url.hostname === '127.0.0.1') return route.continue();
    outside.push(url.href);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(/.*/, (ws) => {
    urls.push(ws.url());
    if (new URL(ws.url()).hostname !== '127.0.0.1') {
      outside.push(ws.url());
      return ws.close({ code: 1008, reason: 'offline test' });
    }
    sockets.push(ws);
    ws.connectToServer();
  });
  context.on('request', (request) => {
    const url = request.url();
    if (!/^(data|blob):/.test(url) && new URL(url).hostname !== '127.0.0.1') outside.push(url);
  });
  context.on('page', (page) => {
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  });
  return { context, outside, urls, sockets, consoleErrors };
}

/** Text elements whose contrast with their background is under WCAG AA (4.5:1, 3:1 for large text). */
const LOW_CONTRAST = `(() => {
  const parse = (c) => { const m = /rgba?\\(([^)]+)\\)/.exec(c); if (!m) return null; const [r, g, b, a = 1] = m[1].split(/[\\s,/]+/).filter(Boolean).map(Number); return { r, g, b, a }; };
  const lum = ({ r, g, b }) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const s = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (s.visibility === 'hidden' || box.width <= 1 || box.height <= 1) continue;
    const [hi, lo] = [lum(parse(s.color)), lum(background(el))].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) low.push(el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" ' + ratio.toFixed(2));
  }
  return low;
})()`;

describe('browser pages (Chromium, offline)', () => {
  let target: CalDavTarget;
  let f: CrmFixture;
  let browser: Browser;
  let base: string;
  let integrationId: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    if (!existsSync(join(ROOT, 'dist', 'web', 'build.json'))) throw new Error('dist/web is not built: run "npm run build" first');
    mkdirSync(ARTIFACTS, { recursive: true });
    target = await radicaleTarget();
    f = await crmFixture(target, ['sam']);
    base = f.app.url.replace('localhost', '127.0.0.1').replace(/\/graphql$/, '');
    integrationId = f.users.sam.integrationId;
    // Chromium itself resolves no name but loopback: nothing could leave the machine even if a route missed it.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--no-first-run', '--disable-background-networking'] });
  }, 120000);
  afterAll(async () => {
    await browser?.close();
    await f?.app.close();
    await target?.stop();
  });

  /** One reconcile interval: the integration is due, the tick runs (as the cron does). */
  async function tick(): Promise<number> {
    await f.app.server.orm.fork().nativeUpdate(CalendarIntegration, {}, { nextSyncAt: new Date(0) });
    return f.app.server.reconciler.tick();
  }

  it('serves the pages from this server alone, the dashboard under 200 KB gzipped', async () => {
    const html = await (await fetch(`${base}/dashboard`, { headers: { accept: 'text/html' } })).text();
    // Every placeholder of the page templates was filled in.
    for (const page of ['/', '/dashboard', '/graphiql']) expect((await (await fetch(`${base}${page}`, { headers: { accept: 'text/html' } })).text()).match(/%[A-Z_]+%/g)).toBeNull();
    const assets = [...html.matchAll(/(?:src|href)="([^"#][^"]*)"/g)].map((m) => m[1]);
    expect(assets.filter((a) => !a.startsWith('/'))).toEqual([]);
    let gzipped = gzipSync(html).length;
    for (const asset of assets) gzipped += gzipSync(Buffer.from(await (await fetch(base + asset)).arrayBuffer())).length;
    expect(gzipped).toBeLessThan(200 * 1024);
    const ide = await (await fetch(`${base}/graphiql`)).text();
    expect([...ide.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((a) => !a.startsWith('/'))).toEqual([]);
  });

  describe('the dashboard', () => {
    let page: Page;
    let offline: Awaited<ReturnType<typeof offlineContext>>;
    const day = nextWeekday(3, 5);
    const row = () => page.locator(`tr[data-integration-id="${integrationId}"]`);

    beforeAll(async () => {
      const { id } = await f.createCalendar({ name: 'Consult', type: 'SERVICE', timezone: 'UTC', slotDurationMinutes: 60, openHours: OPEN, teamMembers: [{ userId: 'sam' }] });
      dataOf(await f.book({ calendarId: id, startsAt: at(day, 10), contact: { name: 'Ann' }, title: 'Consult Ann' }));
      await f.pushed();
      expect(await tick()).toBe(1);
      offline = await offlineContext(browser);
      page = await offline.context.newPage();
    });
    afterAll(() => offline?.context.close());

    it('signs in with the "Access token" field, by keyboard, and shows the integration with its last run', async () => {
      await page.goto(`${base}/dashboard`);
      // The field has focus on arrival: paste and press Enter.
      expect(await page.evaluate('document.activeElement.id')).toBe('token');
      await page.getByLabel('Access token').fill(f.users.sam.token);
      await page.keyboard.press('Enter');
      const text = await textOf(row(), 'Connected');
      expect(text).toContain(f.users.sam.account.appleId);
      expect(text).toMatch(/Success/);
      await textOf(page.locator('#connection'), 'Live');
      expect(await page.locator('#who').innerText()).toContain('Signed in as sam');
    });

    it('updates the row and the warnings without a reload when the phone changes an event', async () => {
      await page.evaluate('window.__sameDocument = true');
      const { phone, account } = f.users.sam;
      const url = await phone.put(account.primary.slug, vevent('gym', stamp(at(day, 10, 30)), stamp(at(day, 11, 30)), 'Gym'));
      expect(await tick()).toBe(1);
      expect(await textOf(row(), '1 created')).toMatch(/Success/);
      // The next sync is the server's schedule after the run (the interval), not "Soon".
      expect(await row().innerText()).toMatch(/About [^\n]*\s*in \d+ minutes/);
      await textOf(page.locator('#warnings'), /Double booking[\s\S]*"Gym"/);

      // The same event moved and renamed on the phone: the same row follows.
      await phone.put(account.primary.slug, vevent('gym', stamp(at(day, 10, 15)), stamp(at(day, 11, 15)), 'Gym (moved)'), url.split('/').pop());
      expect(await tick()).toBe(1);
      await textOf(row(), '1 updated');
      expect(await page.evaluate('window.__sameDocument')).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-live-update.png'), fullPage: true });
    });

    it('says when the connection drops and when it is back, and catches up on what happened meanwhile', async () => {
      const { phone, account } = f.users.sam;
      const [gym] = (await phone.events(account.primary.slug)).filter((e) => e.ics.includes('UID:gym'));
      // The network drops (1012: the server restarts): graphql-ws retries.
      await Promise.all(offline.sockets.splice(0).map((ws) => ws.close({ code: 1012, reason: 'test: network drop' })));
      await textOf(page.locator('#connection'), 'Connection lost');
      // Meanwhile the phone deletes the event and a sync runs: its event is not delivered to a closed socket.
      await phone.delete(gym.href);
      expect(await tick()).toBe(1);
      await textOf(page.locator('#connection'), 'Connection is back', 30000);
      await textOf(row(), '1 deleted');
      expect(await page.evaluate('window.__sameDocument')).toBe(true);
    }, 60000);

    it('reads at 1280 px and at phone width, by keyboard, with sufficient contrast', async () => {
      expect(await page.evaluate(LOW_CONTRAST)).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1280.png'), fullPage: true });
      // Tab walks from the skip link through the page to "Sign out".
      await page.evaluate('document.activeElement && document.activeElement.blur()');
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
      const order: string[] = [];
      for (let i = 0; i < 4; i++) {
        await page.keyboard.press('Tab');
        order.push(String(await page.evaluate('document.activeElement.id || document.activeElement.textContent')));
      }
      expect(order).toContain('sign-out');

      await page.setViewportSize({ width: 390, height: 844 });
      // Each row is a card, each cell labelled.
      expect(await page.evaluate(`getComputedStyle(document.querySelector('tbody td'), '::before').content`)).toBe('"Status"');
      expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
      expect(await page.evaluate(LOW_CONTRAST)).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    it('signs out with the reason when the server refuses the token, and shows a tenant admin the tenant and support every tenant', async () => {
      const other = await offline.context.newPage();
      await other.goto(`${base}/dashboard`);
      await other.getByLabel('Access token').fill('not-a-token');
      await other.keyboard.press('Enter');
      await textOf(other.locator('#token-error'), 'Signed out: Invalid token.');
      expect(await other.getByLabel('Access token').isVisible()).toBe(true);

      await other.getByLabel('Access token').fill(f.admin);
      await other.keyboard.press('Enter');
      await textOf(other.locator('#connection'), 'Live');
      expect(await textOf(other.locator(`tr[data-integration-id="${integrationId}"]`), 'User sam')).toContain(f.users.sam.account.appleId);

      await other.locator('#sign-out').click();
      await other.getByLabel('Access token').fill(f.app.token('sue', 'support-desk', 'support'));
      await other.keyboard.press('Enter');
      expect(await textOf(other.locator(`tr[data-integration-id="${integrationId}"]`), 'User sam (tenant-a)')).toContain(f.users.sam.account.appleId);
      await other.close();
    });

    it('takes a token from #token= (kept in the session, never in a URL sent to the server)', async () => {
      const other = await offline.context.newPage();
      await other.goto(`${base}/dashboard#token=${encodeURIComponent(f.users.sam.token)}`);
      await textOf(other.locator(`tr[data-integration-id="${integrationId}"]`), 'Connected');
      expect(await other.evaluate('location.hash')).toBe('');
      expect(await other.evaluate(`sessionStorage.getItem('crm-calendar.token') === ${JSON.stringify(f.users.sam.token)}`)).toBe(true);
      await other.close();
      expect(offline.urls.filter((u) => u.includes(f.users.sam.token))).toEqual([]);
      expect(offline.urls.some((u) => u.startsWith('ws://127.0.0.1') && u.endsWith('/graphql'))).toBe(true);
      expect(offline.outside).toEqual([]);
      expect(offline.consoleErrors.filter((e) => /Content Security Policy|pageerror/.test(e))).toEqual([]);
    });
  });

  describe('GraphiQL', () => {
    /** The text of GraphiQL's response editor (Monaco virtualises lines: read its model). */
    const response = (page: Page) =>
      page.evaluate(`(globalThis.__MONACO?.editor.getModels() ?? []).filter((m) => /response/.test(m.uri.toString())).map((m) => m.getValue()).join('\\n')`) as Promise<string>;

    async function waitForResponse(page: Page, wanted: RegExp, timeoutMs = 15000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await response(page);
        if (wanted.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`waited for ${wanted}; the response is: ${text}`);
        await sleep(100);
      }
    }

    it('runs offline: a query over HTTP and a subscription over graphql-ws with a token pasted once', async () => {
      const offline = await offlineContext(browser);
      const page = await offline.context.newPage();
      await page.goto(`${base}/graphiql`);
      await page.getByLabel('Access token').fill(f.users.sam.token);
      await page.keyboard.press('Enter');
      await textOf(page.locator('#ide-token-state'), 'Signed in as sam');
      // The saved support operations are the default tabs.
      const tabs = await textOf(page.locator('.graphiql-tabs'), 'LiveSyncResults', 30000);
      for (const name of ['WhoAmI', 'FindIntegration', 'RecentRunsAndWarnings', 'ExplainSlot', 'SyncNow']) expect(tabs).toContain(name);

      await page.locator('.graphiql-tab', { hasText: 'WhoAmI' }).click();
      await page.locator('.graphiql-execute-button').click();
      expect(await waitForResponse(page, /"id": "sam"/)).toMatch(/"role": "user"/);

      await page.locator('.graphiql-tab', { hasText: 'LiveSyncResults' }).click();
      await textOf(page.locator('.graphiql-query-editor'), /subscription\sLiveSyncResults/);
      await page.locator('.graphiql-execute-button').click();
      await sleep(500); // subscribed
      expect(await tick()).toBe(1);
      expect(await waitForResponse(page, new RegExp(`"integrationId": "${integrationId}"`))).toMatch(/"outcome": "SUCCESS"/);
      await page.screenshot({ path: join(ARTIFACTS, 'graphiql-subscription.png') });
      await page.locator('.graphiql-execute-button').click(); // stop

      // Or the token goes in the Headers pane instead of the sign-in field: the same for HTTP and WebSocket.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await textOf(page.locator('#ide-token-state'), 'Not signed in');
      await page.evaluate(`globalThis.__MONACO.editor.getModels().filter((m) => /headers/.test(m.uri.toString())).forEach((m) => m.setValue(${JSON.stringify(JSON.stringify({ Authorization: `Bearer ${f.users.sam.token}` }))}))`);
      await page.locator('.graphiql-execute-button').click();
      await sleep(500);
      expect(await tick()).toBe(1);
      await waitForResponse(page, /"outcome": "SUCCESS"/);
      await page.locator('.graphiql-execute-button').click();
      await page.locator('.graphiql-tab', { hasText: 'WhoAmI' }).click();
      await textOf(page.locator('.graphiql-query-editor'), /query\sWhoAmI/);
      await page.evaluate(`globalThis.__MONACO.editor.getModels().filter((m) => /headers/.test(m.uri.toString())).forEach((m) => m.setValue(${JSON.stringify(JSON.stringify({ Authorization: `Bearer ${f.users.sam.token}` }))}))`);
      await page.evaluate(`globalThis.__MONACO.editor.getModels().filter((m) => /response/.test(m.uri.toString())).forEach((m) => m.setValue(''))`);
      await page.locator('.graphiql-execute-button').click();
      await waitForResponse(page, /"id": "sam"/);

      expect(offline.urls.some((u) => u.startsWith('ws://127.0.0.1') && u.endsWith('/graphql'))).toBe(true);
      expect(offline.urls.filter((u) => u.includes(f.users.sam.token))).toEqual([]);
      expect(offline.outside).toEqual([]);
      expect(offline.consoleErrors.filter((e) => /Content Security Policy|pageerror/.test(e))).toEqual([]);
      await offline.context.close();
    }, 90000);
  });

  describe('the GraphQL URL and the switches', () => {
    it('gives a browser GraphiQL at /graphql and GraphQL clients the API', async () => {
      const page = await fetch(`${base}/graphql`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/graphiql/graphiql.js');
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      const get = await fetch(`${base}/graphql?query=${encodeURIComponent('{ viewer { id } }')}`, { headers: { authorization: `Bearer ${f.users.sam.token}`, 'apollo-require-preflight': 'true' } });
      expect(await get.json()).toEqual({ data: { viewer: { id: 'sam' } } });
      expect(dataOf(await f.app.gql(f.users.sam.token, '{ __schema { queryType { name } } }'))).toEqual({ __schema: { queryType: { name: 'Query' } } });
      expect(await (await fetch(`${base}/`, { headers: { accept: 'text/html' } })).text()).toContain('href="/graphiql"');
    });

    it('reads GRAPHQL_IDE and GRAPHQL_INTROSPECTION (introspection follows the IDE unless set)', () => {
      const switches = (env: Record<string, string>) => {
        const { graphqlIde, graphqlIntrospection } = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), 'crm-ide-')), ...env });
        return { ide: graphqlIde, introspection: graphqlIntrospection };
      };
      expect(switches({})).toEqual({ ide: true, introspection: true });
      expect(switches({ GRAPHQL_IDE: 'false' })).toEqual({ ide: false, introspection: false });
      expect(switches({ GRAPHQL_IDE: 'false', GRAPHQL_INTROSPECTION: 'true' })).toEqual({ ide: false, introspection: true });
      expect(switches({ GRAPHQL_INTROSPECTION: 'false' })).toEqual({ ide: true, introspection: false });
      expect(() => switches({ GRAPHQL_IDE: 'nope' })).toThrow(/GRAPHQL_IDE/);
    });

    it('with GRAPHQL_IDE=false: no IDE (nor Apollo landing page), no introspection, the API and the dashboard as before', async () => {
      const app: TestApp = await startTestApp({ caldavUrl: f.users.sam.account.serverUrl, env: { GRAPHQL_IDE: 'false' } });
      try {
        const url = app.url.replace('localhost', '127.0.0.1');
        const root = url.replace(/\/graphql$/, '');
        for (const path of [url, `${root}/graphiql`]) {
          const res = await fetch(path, { headers: { accept: 'text/html' } });
          expect(res.status).toBe(404);
          expect(((await res.json()) as { errors: { message: string }[] }).errors[0].message).toMatch(/GRAPHQL_IDE=false/);
        }
        expect((await fetch(`${root}/graphiql/graphiql.js`)).status).toBe(404);
        expect((await fetch(`${root}/dashboard`)).status).toBe(200);
        expect(await (await fetch(`${root}/`, { headers: { accept: 'text/html' } })).text()).toContain('<li hidden><a href="/graphiql"');
        const token = app.token('sam');
        const refused = await app.gql(token, 'query { viewer { id } ...F } fragment F on Query { __schema { types { name } } }');
        expect(refused.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(dataOf(await app.gql(token, '{ __typename viewer { id } }'))).toEqual({ __typename: 'Query', viewer: { id: 'sam' } });
      } finally {
        await app!.close();
      }
    });
  });
});

