import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { signToken, type Role } from '../src/auth/jwt';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { startServer, type RunningServer } from '../src/server';

export const TEST_JWT_SECRET = 'test-secret-' + randomBytes(8).toString('hex');

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

/** The API server running in this process on a free port, with captured logs. */
export interface TestApp {
  server: RunningServer;
  url: string;
  /** Every log line written so far (JSON). */
  logs: string[];
  dataDir: string;
  token(sub: string, tenantId?: string, role?: Role): string;
  /** POSTs a GraphQL operation over real HTTP. */
  gql<T = Record<string, any>>(token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  caldavUrl: string;
  /** Defaults to a fresh SQLite file. */
  databaseUrl?: string;
  /** A data folder to reuse (to restart an app on the same SQLite file and dev keys). */
  dataDir?: string;
  env?: Record<string, string>;
}

/** Starts the server as `npm start` would, from environment variables, on SQLite unless told otherwise. */
export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'crm-app-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: '0',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ICLOUD_CALDAV_URL: options.caldavUrl,
    CALDAV_TIMEOUT_MS: '3000',
    // No background ticks: tests run the reconciler with `server.reconciler.tick()` when they mean to.
    SYNC_CRON: '',
    // Tests sync on purpose, often several times in a second; the rate limit has a test of its own.
    SYNC_NOW_MIN_INTERVAL_SECONDS: '0',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  });
  const server = await startServer(config, createLogger(sink, 'debug'));
  return {
    server,
    url: server.url,
    logs,
    dataDir,
    token: (sub, tenantId = 'tenant-a', role = 'user') => signToken({ sub, tenantId, role }, TEST_JWT_SECRET),
    gql: async (token, query, variables) => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as GraphQLResponse<any>;
    },
    close: async () => {
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Returns `data`, failing with the errors when there are any. */
export function dataOf<T>(response: GraphQLResponse<T>): T {
  if (response.errors?.length) throw new Error('GraphQL errors: ' + JSON.stringify(response.errors));
  return response.data as T;
}

/** Returns the `extensions.code` of the first error (undefined when there is none). */
export function codeOf(response: GraphQLResponse): string | undefined {
  return response.errors?.[0]?.extensions?.code;
}

export const INTEGRATION_FIELDS = `id provider accountEmail status statusMessage lastSyncedAt
  calendars { id name color writable isPrimary checkForConflicts }`;

export const CONNECT = `mutation Connect($input: ConnectICloudInput!) { connectICloud(input: $input) { ${INTEGRATION_FIELDS} } }`;
export const INTEGRATIONS = `{ calendarIntegrations { ${INTEGRATION_FIELDS} } }`;
