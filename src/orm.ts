import { MikroORM, type EntityManager, type MigrationObject, type Options } from '@mikro-orm/core';
import { LibSqlDriver } from '@mikro-orm/libsql';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { ENTITIES } from './entities';
import { POSTGRES_MIGRATIONS } from './migrations/postgresql';
import { SQLITE_MIGRATIONS } from './migrations/sqlite';

export type Dialect = 'sqlite' | 'postgresql';

/** `postgres://` and `postgresql://` URLs select PostgreSQL; anything else is a SQLite file path. */
export function dialectOf(databaseUrl: string): Dialect {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? 'postgresql' : 'sqlite';
}

/**
 * MikroORM options for `databaseUrl`, with the committed migrations of that dialect listed explicitly
 * (nothing is discovered by scanning files at run time or under jest).
 */
export function ormOptions(databaseUrl: string, migrationsList?: MigrationObject[]): Options {
  const dialect = dialectOf(databaseUrl);
  const common = {
    entities: ENTITIES,
    extensions: [Migrator],
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    allowGlobalContext: false,
  };
  if (dialect === 'postgresql') {
    return {
      ...common,
      driver: PostgreSqlDriver,
      clientUrl: databaseUrl,
      migrations: { migrationsList: migrationsList ?? POSTGRES_MIGRATIONS, path: 'src/migrations/postgresql', transactional: true, silent: true, snapshot: false },
    };
  }
  if (databaseUrl !== ':memory:') mkdirSync(dirname(databaseUrl), { recursive: true });
  return {
    ...common,
    driver: LibSqlDriver,
    dbName: databaseUrl,
    // Per connection: set only once at start, these held for the first connection only, and then every commit
    // waited for an fsync (2.4 ms a commit measured, the event loop blocked meanwhile) and foreign keys were not
    // enforced. Then the connection is kept: MikroORM's libsql dialect retires a connection 10 s after it opened
    // (`validateConnection`, meant for remote libsql), and for a file that only cost a request every 10 s the
    // close of the last connection (a WAL checkpoint, fsyncs on the event loop) and every statement prepared again.
    pool: {
      afterCreate: (connection: LibSqlConnection, done: (err: Error | null, connection: unknown) => void) => {
        if (databaseUrl !== ':memory:') connection.__created = Number.POSITIVE_INFINITY;
        done(applyPragmas(connection, databaseUrl), connection);
      },
    },
    migrations: { migrationsList: migrationsList ?? SQLITE_MIGRATIONS, path: 'src/migrations/sqlite', transactional: true, silent: true, snapshot: false },
  };
}

/** What the pool's `afterCreate` gets from MikroORM's libsql dialect: the driver's connection, stamped when opened. */
interface LibSqlConnection {
  exec(sql: string): unknown;
  /** When the dialect opened it (ms); it retires a connection 10 s after this. */
  __created?: number;
}

/**
 * The settings of each new SQLite connection; returns the error, if any. The driver runs on the event loop:
 * with the default synchronous=FULL every commit waits for an fsync (with the default rollback journal,
 * several: 4-5 ms a booking, every request stalled meanwhile). With the write-ahead log and synchronous=NORMAL
 * a commit appends to the log and the fsyncs happen at checkpoints; a crash of the process loses nothing
 * committed (a power cut may lose the last commits, never the file's consistency). Foreign keys are enforced
 * (cascading deletes rely on them).
 */
function applyPragmas(connection: LibSqlConnection, databaseUrl: string): Error | null {
  try {
    connection.exec(`pragma foreign_keys = on;${databaseUrl === ':memory:' ? '' : ' pragma synchronous = normal;'}`);
    return null;
  } catch (e) {
    return e as Error;
  }
}

/** The ORM and what request handlers and jobs need from it. */
export interface Orm {
  orm: MikroORM;
  /** A fresh EntityManager for one request or one job run. */
  fork(): EntityManager;
  close(): Promise<void>;
}

/** Arbitrary constant naming this application's migration lock (pg_advisory_lock takes a bigint). */
const MIGRATION_LOCK = 4_726_113_905;

/**
 * Applies pending migrations. On PostgreSQL several instances may start at once: a session-level advisory
 * lock on one held connection makes them migrate one after the other (the later ones find nothing to do).
 */
async function migrate(orm: MikroORM, dialect: Dialect): Promise<void> {
  if (dialect !== 'postgresql') return void (await orm.getMigrator().up());
  const knex = (orm.em.getConnection() as unknown as { getKnex(): { client: { acquireConnection(): Promise<PgConnection>; releaseConnection(c: PgConnection): Promise<void> } } }).getKnex();
  const connection = await knex.client.acquireConnection();
  try {
    await connection.query(`select pg_advisory_lock(${MIGRATION_LOCK})`);
    await orm.getMigrator().up();
  } finally {
    await connection.query(`select pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => undefined);
    await knex.client.releaseConnection(connection);
  }
}

interface PgConnection {
  query(sql: string): Promise<unknown>;
}

/** Connects to the database, applies pending migrations and returns the ORM. Throws when either fails. */
export async function initORM(databaseUrl: string): Promise<Orm> {
  if (dialectOf(databaseUrl) === 'sqlite' && databaseUrl !== ':memory:') {
    // Created readable by the server's user only before SQLite opens it (its -wal and -shm files follow its mode).
    mkdirSync(dirname(databaseUrl), { recursive: true });
    closeSync(openSync(databaseUrl, 'a', 0o600));
    chmodSync(databaseUrl, 0o600);
  }
  const orm = await MikroORM.init(ormOptions(databaseUrl));
  if (dialectOf(databaseUrl) === 'sqlite' && databaseUrl !== ':memory:') {
    // A write-ahead log is a property of the file: set once (see `applyPragmas` for the rest).
    await orm.em.getConnection().execute('pragma journal_mode = wal');
  }
  await migrate(orm, dialectOf(databaseUrl));
  return { orm, fork: () => orm.em.fork(), close: () => orm.close(true) };
}
