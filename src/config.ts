import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isAllowedTransport } from './sync/caldav/transport-policy';

/** Runtime configuration, read from the environment (see DESIGN.md, "Configuration"). */
export interface Config {
  port: number;
  /** Folder for the embedded defaults: SQLite file and generated dev secrets. */
  dataDir: string;
  /** `postgres://…` or a SQLite file path. */
  databaseUrl: string;
  redisUrl?: string;
  /** Origins of browser front ends allowed to call the API (CORS); `*` for any. Empty: same origin only. */
  corsOrigins: string[];
  jwtSecret: string;
  /** Current credentials key (32 bytes) followed by older keys that may still decrypt. */
  credentialsKeys: Buffer[];
  icloudCaldavUrl: string;
  caldavTimeoutMs: number;
  /** node-cron expression of the reconcile tick; empty disables the reconciler (tests, one-off tools). */
  syncCron: string;
  syncIntervalSeconds: number;
  /** Integrations one process syncs at once, and at once per CalDAV host. */
  syncConcurrency: number;
  syncPerHost: number;
  /** How long a claimed integration stays leased; a crashed process's lease expires after this. */
  syncLeaseSeconds: number;
  /** A user's `syncNow` this soon after the integration's last run is refused with TOO_MANY_REQUESTS. */
  syncNowMinIntervalSeconds: number;
  /** Fetched objects of a calendar parsed and stored per transaction during a sync. */
  syncBatchObjects: number;
  /** First wait after a failed sync or push; doubles per failure up to 60 times this. */
  syncRetryBaseSeconds: number;
  /** Failed connect attempts allowed per user within `connectThrottleWindowSeconds`. */
  connectThrottleLimit: number;
  /** Failed connect attempts allowed per Apple ID (whichever users make them) within the window. */
  connectThrottleAppleIdLimit: number;
  connectThrottleWindowSeconds: number;
  /** GraphiQL at `/graphiql` and a browser GET of `/graphql` (GRAPHQL_IDE, default on). */
  graphqlIde: boolean;
  /** Whether the schema may be introspected (GRAPHQL_INTROSPECTION, default: follows the IDE). */
  graphqlIntrospection: boolean;
  /** How long a shutdown waits for sync runs and pushes under way before giving their leases back. */
  shutdownTimeoutSeconds: number;
  /** When set, `/metrics` requires it as a bearer token. */
  metricsToken?: string;
  /** Messages for the operator produced while loading (generated secrets), logged once the logger exists. */
  warnings: string[];
}

/**
 * Reads a secret from the environment, or from `<dataDir>/<file>`, generating it there on first run.
 * Returns the secret and, when it was not set in the environment, a warning for the operator.
 */
function devSecret(value: string | undefined, dataDir: string, file: string, what: string): [string, string?] {
  if (value) return [value];
  const path = join(dataDir, file);
  if (!existsSync(path)) {
    privateDir(dataDir);
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return [readFileSync(path, 'utf8').trim(), `${what} is not set: using the development value in ${path}. Set it in production.`];
}

/** Creates `dir` if needed, readable by the user running the server only (it holds keys and the database). */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function decodeKey(b64: string, name: string): Buffer {
  const key = Buffer.from(b64.trim(), 'base64');
  if (key.length !== 32) throw new Error(`${name} must be 32 bytes, base64-encoded (got ${key.length} bytes)`);
  return key;
}

function flagOf(value: string | undefined, fallback: boolean, name: string): boolean {
  if (value === undefined || value.trim() === '') return fallback;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(v)) return true;
  if (['false', '0', 'off', 'no'].includes(v)) return false;
  throw new Error(`${name} must be true or false, got "${value}"`);
}

function intOf(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

/**
 * Builds the configuration from `env`; every variable has a default that works on a laptop.
 * Throws an `Error` naming the variable when a value is invalid (bad key length, plain HTTP to a remote host).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.DATA_DIR ?? './data');
  privateDir(dataDir);
  const warnings: string[] = [];
  const [jwtSecret, jwtWarning] = devSecret(env.AUTH_JWT_SECRET, dataDir, 'dev-jwt-secret', 'AUTH_JWT_SECRET');
  const [credKey, keyWarning] = devSecret(env.CREDENTIALS_KEY, dataDir, 'dev-credentials-key', 'CREDENTIALS_KEY');
  for (const w of [jwtWarning, keyWarning]) if (w) warnings.push(w);
  const previous = (env.CREDENTIALS_PREVIOUS_KEYS ?? '').split(',').filter((k) => k.trim() !== '');
  const icloudCaldavUrl = env.ICLOUD_CALDAV_URL ?? 'https://caldav.icloud.com';
  // Credentials travel in every request: refuse plain HTTP except to loopback (DESIGN.md, "Configuration").
  if (!isAllowedTransport(new URL(icloudCaldavUrl))) {
    throw new Error(`ICLOUD_CALDAV_URL must use https (plain http is allowed only to loopback): ${icloudCaldavUrl}`);
  }
  const graphqlIde = flagOf(env.GRAPHQL_IDE, true, 'GRAPHQL_IDE');
  return {
    port: intOf(env.PORT, 4000, 'PORT'),
    graphqlIde,
    graphqlIntrospection: flagOf(env.GRAPHQL_INTROSPECTION, graphqlIde, 'GRAPHQL_INTROSPECTION'),
    dataDir,
    databaseUrl: env.DATABASE_URL ?? join(dataDir, 'crm-calendar.sqlite'),
    redisUrl: env.REDIS_URL || undefined,
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    jwtSecret,
    credentialsKeys: [decodeKey(credKey, 'CREDENTIALS_KEY'), ...previous.map((k) => decodeKey(k, 'CREDENTIALS_PREVIOUS_KEYS'))],
    icloudCaldavUrl,
    caldavTimeoutMs: intOf(env.CALDAV_TIMEOUT_MS, 20000, 'CALDAV_TIMEOUT_MS'),
    syncCron: env.SYNC_CRON ?? '*/30 * * * * *',
    syncIntervalSeconds: intOf(env.SYNC_INTERVAL_SECONDS, 120, 'SYNC_INTERVAL_SECONDS'),
    syncConcurrency: Math.max(1, intOf(env.SYNC_CONCURRENCY, 4, 'SYNC_CONCURRENCY')),
    syncPerHost: Math.max(1, intOf(env.SYNC_PER_HOST, 2, 'SYNC_PER_HOST')),
    syncLeaseSeconds: Math.max(5, intOf(env.SYNC_LEASE_SECONDS, 300, 'SYNC_LEASE_SECONDS')),
    syncNowMinIntervalSeconds: intOf(env.SYNC_NOW_MIN_INTERVAL_SECONDS, 10, 'SYNC_NOW_MIN_INTERVAL_SECONDS'),
    syncBatchObjects: Math.max(1, intOf(env.SYNC_BATCH_OBJECTS, 500, 'SYNC_BATCH_OBJECTS')),
    syncRetryBaseSeconds: Math.max(1, intOf(env.SYNC_RETRY_BASE_SECONDS, 30, 'SYNC_RETRY_BASE_SECONDS')),
    connectThrottleLimit: intOf(env.CONNECT_THROTTLE_LIMIT, 5, 'CONNECT_THROTTLE_LIMIT'),
    connectThrottleAppleIdLimit: intOf(env.CONNECT_THROTTLE_APPLE_ID_LIMIT, 10, 'CONNECT_THROTTLE_APPLE_ID_LIMIT'),
    connectThrottleWindowSeconds: intOf(env.CONNECT_THROTTLE_WINDOW_SECONDS, 600, 'CONNECT_THROTTLE_WINDOW_SECONDS'),
    metricsToken: env.METRICS_TOKEN || undefined,
    shutdownTimeoutSeconds: intOf(env.SHUTDOWN_TIMEOUT_SECONDS, 25, 'SHUTDOWN_TIMEOUT_SECONDS'),
    warnings,
  };
}
