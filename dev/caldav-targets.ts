import { randomInt } from 'node:crypto';
import { startICloudEmulator, type ICloudEmulator } from './icloud-emulator';
import { READ_ONLY_PREFIX, startRadicale, type RadicaleServer } from './radicale';
import { startXandikos, type XandikosServer } from './xandikos';
import { startFaultProxy, type FaultProxy } from './fault-proxy';

/** An account on a CalDAV server, with what a second client (the user's iPhone) needs to reach it. */
export interface TargetAccount {
  appleId: string;
  appSpecificPassword: string;
  /** `ICLOUD_CALDAV_URL` for a server that serves this account. */
  serverUrl: string;
  /** Absolute URL of the calendar home, where another client creates and deletes calendars. */
  homeUrl: string;
  /** Names of the VEVENT calendars the account starts with; `readOnly` among them are not writable. */
  calendars: { name: string; writable: boolean }[];
  /** Slug and name of the writable calendar tests use as primary ("work", "Work"). */
  primary: { slug: string; name: string };
}

/**
 * A CalDAV server the shared contract suites run against (as vdirsyncer runs one storage suite against
 * every server): emulated iCloud, Radicale and Xandikos.
 */
export interface CalDavTarget {
  name: 'icloud' | 'radicale' | 'xandikos';
  /** Whether the server checks passwords (Xandikos has no authentication). */
  checksPasswords: boolean;
  newAccount(): Promise<TargetAccount>;
  /** Accounts for several CRM users that one app can connect at once (one server URL). */
  newAccounts(n: number): Promise<TargetAccount[]>;
  /** Sends a request as another client of `account` would (Basic credentials, no redirect surprises). */
  request(account: TargetAccount, url: string, init: { method: string; body?: string; headers?: Record<string, string> }): Promise<Response>;
  stop(): Promise<void>;
}

const SEEDED = [
  { slug: 'home', name: 'Calendar', color: '#1BADF8FF', components: ['VEVENT'] },
  { slug: 'work', name: 'Work', color: '#FF2968FF', components: ['VEVENT'] },
  { slug: 'tasks', name: 'Reminders', color: '#CC73E1FF', components: ['VTODO'] },
  { slug: `${READ_ONLY_PREFIX}holidays`, name: 'US Holidays', components: ['VEVENT'] },
];
const WORK = { slug: 'work', name: 'Work' };
const SEEDED_EVENT_CALENDARS = [
  { name: 'Calendar', writable: true },
  { name: 'US Holidays', writable: false },
  { name: 'Work', writable: true },
];

function basicRequest(account: TargetAccount, url: string, init: { method: string; body?: string; headers?: Record<string, string> }) {
  const authorization = 'Basic ' + Buffer.from(`${account.appleId}:${account.appSpecificPassword}`).toString('base64');
  return fetch(url, { method: init.method, body: init.body, headers: { authorization, ...init.headers } });
}

function several(n: number, make: () => Promise<TargetAccount>): Promise<TargetAccount[]> {
  return Promise.all(Array.from({ length: n }, make));
}

function appPassword(): string {
  return Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => String.fromCharCode(97 + randomInt(26))).join('')).join('-');
}

/** Emulated iCloud in front of its own Radicale. */
export async function icloudTarget(): Promise<CalDavTarget & { emulator: ICloudEmulator }> {
  const radicale = await startRadicale();
  const emulator = await startICloudEmulator(radicale);
  const target: CalDavTarget & { emulator: ICloudEmulator } = {
    name: 'icloud',
    checksPasswords: true,
    emulator,
    newAccount: async () => {
      const a = emulator.addAccount();
      return { ...a, serverUrl: emulator.url, homeUrl: `${emulator.partitionUrl}/${a.dsid}/calendars/`, calendars: SEEDED_EVENT_CALENDARS, primary: WORK };
    },
    newAccounts: (n) => several(n, target.newAccount),
    request: basicRequest,
    stop: async () => {
      await emulator.stop();
      await radicale.stop();
    },
  };
  return target;
}

/** Radicale used directly, with the same calendars as an iCloud account (a read-only one by its rights). */
export async function radicaleTarget(): Promise<CalDavTarget & { radicale: RadicaleServer }> {
  const radicale = await startRadicale();
  const target: CalDavTarget & { radicale: RadicaleServer } = {
    name: 'radicale',
    checksPasswords: true,
    radicale,
    newAccount: async () => {
      const appleId = `user${randomInt(1e9)}@example.com`;
      const appSpecificPassword = appPassword();
      radicale.addUser(appleId, appSpecificPassword);
      for (const c of SEEDED) radicale.createCollectionOnDisk(appleId, c.slug, c);
      const homeUrl = `${radicale.url}/${encodeURIComponent(appleId)}/`;
      return { appleId, appSpecificPassword, serverUrl: radicale.url, homeUrl, calendars: SEEDED_EVENT_CALENDARS, primary: WORK };
    },
    newAccounts: (n) => several(n, target.newAccount),
    request: basicRequest,
    stop: () => radicale.stop(),
  };
  return target;
}

/** Xandikos has one principal and no authentication: each account is a Xandikos server of its own. */
export async function xandikosTarget(): Promise<CalDavTarget> {
  const servers: XandikosServer[] = [];
  return {
    name: 'xandikos',
    checksPasswords: false,
    newAccount: async () => {
      const server = await startXandikos();
      servers.push(server);
      const account: TargetAccount = {
        appleId: `user${randomInt(1e9)}@example.com`,
        appSpecificPassword: appPassword(),
        serverUrl: server.url,
        homeUrl: `${server.url}/user/calendars/`,
        calendars: [{ name: 'calendar', writable: true }, { name: 'Work', writable: true }],
        primary: WORK,
      };
      // Xandikos 0.2.8 ignores supported-calendar-component-set (every collection takes every type), so it
      // cannot hold a VTODO-only list: the emulation and Radicale cover that case.
      await mkcalendar(basicRequest, account, 'work', 'Work', ['VEVENT']);
      return account;
    },
    // One server, one principal: each CRM user gets a calendar of their own on it as primary.
    newAccounts: async (n) => {
      const server = await startXandikos();
      servers.push(server);
      const accounts: TargetAccount[] = [];
      for (let i = 0; i < n; i++) {
        const account: TargetAccount = {
          appleId: `user${randomInt(1e9)}@example.com`,
          appSpecificPassword: appPassword(),
          serverUrl: server.url,
          homeUrl: `${server.url}/user/calendars/`,
          calendars: [],
          primary: { slug: `work-${i}`, name: `Work ${i}` },
        };
        await mkcalendar(basicRequest, account, account.primary.slug, account.primary.name, ['VEVENT']);
        accounts.push(account);
      }
      return accounts;
    },
    request: basicRequest,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/** Creates a calendar in the account's home over HTTP (MKCALENDAR, RFC 4791 section 5.3.1), as another client would. */
export async function mkcalendar(
  request: CalDavTarget['request'],
  account: TargetAccount,
  slug: string,
  name: string,
  components: string[] = ['VEVENT'],
): Promise<string> {
  const url = new URL(`${slug}/`, account.homeUrl).href;
  const comps = components.map((c) => `<C:comp name="${c}"/>`).join('');
  const body =
    `<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>` +
    `<D:displayname>${name}</D:displayname><C:supported-calendar-component-set>${comps}</C:supported-calendar-component-set>` +
    `</D:prop></D:set></C:mkcalendar>`;
  const res = await request(account, url, { method: 'MKCALENDAR', body, headers: { 'content-type': 'application/xml; charset=utf-8' } });
  if (res.status !== 201) throw new Error(`MKCALENDAR ${url} failed: ${res.status} ${await res.text()}`);
  return url;
}

/** The three servers, started on demand by each suite. */
export const TARGETS: { name: CalDavTarget['name']; checksPasswords: boolean; start: () => Promise<CalDavTarget> }[] = [
  { name: 'icloud', checksPasswords: true, start: icloudTarget },
  { name: 'radicale', checksPasswords: true, start: radicaleTarget },
  { name: 'xandikos', checksPasswords: false, start: xandikosTarget },
];

/**
 * Radicale behind a fault-injecting proxy: the server under test reaches it through `proxy` (its
 * `serverUrl`), the phone directly, as an iPhone reaches iCloud whatever happens to the CRM's connection.
 */
export async function faultyRadicaleTarget(): Promise<CalDavTarget & { radicale: RadicaleServer; proxy: FaultProxy }> {
  const inner = await radicaleTarget();
  const proxy = await startFaultProxy(inner.radicale.url);
  const throughProxy = (a: TargetAccount): TargetAccount => ({ ...a, serverUrl: proxy.url });
  return {
    ...inner,
    proxy,
    newAccount: async () => throughProxy(await inner.newAccount()),
    newAccounts: async (n) => (await inner.newAccounts(n)).map(throughProxy),
    stop: async () => {
      await proxy.stop();
      await inner.stop();
    },
  };
}
