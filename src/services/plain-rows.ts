import type { Knex } from '@mikro-orm/libsql';
import { ReferenceKind, wrap, type Collection, type EntityClass, type EntityManager, type EntityMetadata } from '@mikro-orm/core';

/** A prepared statement of the SQLite driver (libsql: synchronous, like better-sqlite3). */
interface SqliteStatement {
  all(params: unknown[]): Record<string, unknown>[];
  run(params: unknown[]): { changes: number };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}
interface KnexClient {
  driverName?: string;
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

/** Prepared statements per SQLite connection, by SQL text (the pool replaces its connection now and then). */
const statements = new WeakMap<object, Map<string, SqliteStatement>>();
/** Texts vary only with the length of `in (?, ...)` lists: a bound against a caller that builds SQL from input. */
const MAX_STATEMENTS = 500;

/**
 * Plain rows of a read-only query, in the EntityManager's transaction when it has one: no entity is built
 * or tracked. `sql` uses `?` placeholders and the tables' column names (the same on SQLite and PostgreSQL).
 *
 * On SQLite the query runs on the pool's connection (or the transaction's) as a prepared statement kept for
 * the next call: MikroORM inlines every parameter into the text and hands it to knex, which made each read
 * cost about 240 µs of CPU (compiling the statement included) where the statement itself takes 30 µs.
 */
export async function plainRows(em: EntityManager, sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  return run(em, sql, params, (s, bound) => s.all(bound), (result) => result.rows);
}

/**
 * Runs `sql` on SQLite as a statement prepared once, on the transaction's connection or the pool's (held for
 * the call only); on PostgreSQL as a parameterised query through knex, in the transaction if any, and `other`
 * reads its result. Not through MikroORM's `execute`: it writes every parameter into the SQL text (1,800 of
 * them for 256 rows of an INSERT took longer to format than to run).
 */
async function run<T>(em: EntityManager, sql: string, params: unknown[], onSqlite: (statement: SqliteStatement, bound: unknown[]) => T, other: (result: { rows: Record<string, unknown>[]; rowCount: number }) => T): Promise<T> {
  const trx = em.getTransactionContext<Knex.Transaction>();
  const knex = (em.getConnection() as unknown as { getKnex(): Knex }).getKnex();
  const client = (trx ?? knex).client as KnexClient;
  if (client.driverName !== 'libsql') {
    const query = knex.raw(sql, params as Knex.RawBinding[]);
    return other((await (trx ? query.transacting(trx) : query)) as unknown as { rows: Record<string, unknown>[]; rowCount: number });
  }
  const connection = (await client.acquireConnection()) as SqliteConnection;
  try {
    return onSqlite(prepared(connection, sql), bind(params));
  } finally {
    await client.releaseConnection(connection);
  }
}

/** The statement of `sql` on `connection`, prepared once. */
function prepared(connection: SqliteConnection, sql: string): SqliteStatement {
  let cache = statements.get(connection);
  if (!cache) statements.set(connection, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) {
    if (cache.size >= MAX_STATEMENTS) cache.clear();
    statement = connection.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}

/** Parameters as knex's SQLite dialects bind them: dates as epoch ms, booleans as 0/1. */
function bind(params: unknown[]): unknown[] {
  return params.map((p) => (p instanceof Date ? p.getTime() : typeof p === 'boolean' ? Number(p) : p));
}

type Scalar = string | number | boolean | Date | null;
/** Property names to values: a scalar (`= ?`), null (`is null`) or a list (`in (...)`, none matches an empty one). */
export type Where<T> = { [K in keyof T & string]?: Scalar | readonly Scalar[] };
export interface FindOptions<T> {
  limit?: number;
  orderBy?: { [K in keyof T & string]?: 'asc' | 'desc' };
}

/** `select <columns> ... where a = ? and b is null ...` per entity and shape of the criteria, built once from the metadata. */
const findSql = new Map<string, string>();
const MAX_FIND_SQL = 500;

/**
 * The entities whose own columns match `where` (property names; a relation by its id), ordered and limited
 * as asked, read as plain rows and merged into `em` as `em.find` would (managed, flushed on change). An entity
 * `em` holds already is returned as it is, with its unflushed changes. For hot reads without relations:
 * about 8 times less CPU than `em.findOne` (124 µs against 1 ms for a user by tenant and CRM id).
 */
export async function findBy<T extends object>(em: EntityManager, entity: EntityClass<T>, where: Where<T>, options: FindOptions<T> = {}): Promise<T[]> {
  const meta = em.getMetadata().get<T>(entity.name);
  const keys = Object.keys(where) as (keyof T & string)[];
  if (keys.some((k) => Array.isArray(where[k]) && (where[k] as Scalar[]).length === 0)) return [];
  const shape = (k: keyof T & string) => (where[k] === null ? 'null' : Array.isArray(where[k]) ? `in${(where[k] as Scalar[]).length}` : '=');
  const order = Object.entries(options.orderBy ?? {}) as [string, 'asc' | 'desc'][];
  const key = `${meta.className}:${keys.map((k) => `${k}${shape(k)}`).join(',')}:${order.join(',')}:${options.limit ?? ''}`;
  let sql = findSql.get(key);
  if (!sql) {
    const column = (k: string) => {
      const prop = (meta.properties as Record<string, { fieldNames?: string[] } | undefined>)[k];
      if (!prop?.fieldNames || prop.fieldNames.length !== 1) throw new Error(`findBy: ${meta.className}.${k} is not a column`);
      return `"${prop.fieldNames[0]}"`;
    };
    const conditions = keys.map((k) => {
      const s = shape(k);
      return s === 'null' ? `${column(k)} is null` : s === '=' ? `${column(k)} = ?` : `${column(k)} in (${placeholders((where[k] as Scalar[]).length)})`;
    });
    sql =
      `select ${columnsOf(meta)} from "${meta.tableName}"` +
      (conditions.length ? ` where ${conditions.join(' and ')}` : '') +
      (order.length ? ` order by ${order.map(([k, d]) => `${column(k)} ${d === 'desc' ? 'desc' : 'asc'}`).join(', ')}` : '') +
      (options.limit ? ` limit ${Math.floor(options.limit)}` : '');
    if (findSql.size >= MAX_FIND_SQL) findSql.clear();
    findSql.set(key, sql);
  }
  const param = (v: Scalar) => (v instanceof Date ? dateParam(em, v) : v);
  const params = keys.flatMap((k) => (where[k] === null ? [] : Array.isArray(where[k]) ? (where[k] as Scalar[]).map(param) : [param(where[k] as Scalar)]));
  return merged(em, entity, await plainRows(em, sql, params));
}

/**
 * Loads `collection` of each of `owners` (a one-to-many, read with `findBy` by its owning column) and marks
 * it initialized, as `em.populate` would: one query for all owners, in the order the index gives.
 */
export async function populateBy<O extends { id: string }, T extends object>(em: EntityManager, owners: O[], collection: keyof O & string, entity: EntityClass<T>, owner: keyof T & string): Promise<void> {
  const todo = owners.filter((o) => !(o[collection] as Collection<T>).isInitialized());
  if (todo.length === 0) return;
  const items = await findBy(em, entity, { [owner]: todo.map((o) => o.id) } as unknown as Where<T>);
  const byOwner = new Map<string, T[]>(todo.map((o) => [o.id, []]));
  for (const item of items) byOwner.get((item[owner] as { id: string }).id)?.push(item);
  for (const o of todo) (o[collection] as Collection<T>).hydrate(byOwner.get(o.id)!);
}

/**
 * The columns an entity is loaded with: its own and its foreign keys, without lazy ones (an app-specific
 * password's cipher text, an event's iCalendar text), as em.find leaves them until populated.
 */
function columnsOf(meta: EntityMetadata): string {
  const own = meta.props.filter((p) => !p.lazy && p.persist !== false && p.fieldNames?.length && (p.kind === ReferenceKind.SCALAR || p.kind === ReferenceKind.MANY_TO_ONE || (p.kind === ReferenceKind.ONE_TO_ONE && p.owner)));
  return own.flatMap((p) => p.fieldNames.map((f) => `"${f}"`)).join(', ');
}

/** Rows of `entity`'s table as managed entities of `em`. */
function merged<T extends object>(em: EntityManager, entity: EntityClass<T>, rows: Record<string, unknown>[]): T[] {
  const meta = em.getMetadata().get<T>(entity.name);
  const pk = meta.primaryKeys.length === 1 ? meta.properties[meta.primaryKeys[0]].fieldNames[0] : undefined;
  const uow = em.getUnitOfWork();
  return rows.map((row) => {
    const held = pk ? uow.getById<T>(meta.className, row[pk] as never) : undefined;
    // A reference (an uninitialised entity another row pointed to) is filled in; a loaded one is kept as it is.
    return held && wrap(held, true).isInitialized() ? held : em.map(entity, row as never);
  });
}

/** The first entity `findBy` finds, or null. */
export async function findOneBy<T extends object>(em: EntityManager, entity: EntityClass<T>, where: Where<T>): Promise<T | null> {
  return (await findBy(em, entity, where, { limit: 1 }))[0] ?? null;
}

/**
 * Runs one write (`insert`, `update` or `delete`, `?` placeholders) as `plainRows` runs a read, in the `em`'s transaction
 * when it has one, and returns how many rows it changed. For hot writes outside the unit of work (a lease,
 * the end of an outbox entry): MikroORM's nativeUpdate cost about 2 ms of CPU building a conditional UPDATE.
 */
export async function plainWrite(em: EntityManager, sql: string, params: unknown[]): Promise<number> {
  return run(em, sql, params, (s, bound) => s.run(bound).changes, (result) => result.rowCount);
}

/** Rows per INSERT of `insertRows`: powers of two up to this, so that a handful of statement texts serve every count. */
const INSERT_ROWS = 256;

/**
 * Inserts `rows` (values in the order of `columns`; dates as `Date`) into `table` with multi-row INSERTs
 * run by `plainWrite`, in the `em`'s transaction when it has one. For bulk writes outside the unit of work:
 * an import's thousands of rows cost seconds of CPU and hundreds of MB of snapshots as entities.
 */
export async function insertRows(em: EntityManager, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  const row = `(${placeholders(columns.length)})`;
  for (let i = 0; i < rows.length; ) {
    let n = INSERT_ROWS;
    while (n > rows.length - i) n >>= 1;
    const params = rows.slice(i, i + n).flatMap((r) => r.map((v) => (v instanceof Date ? dateParam(em, v) : v)));
    await plainWrite(em, `insert into ${table} (${columns.join(', ')}) values ${new Array(n).fill(row).join(', ')}`, params);
    i += n;
  }
}

/**
 * Runs independent reads: at once on their own pooled connections, or one after the other inside a
 * transaction (one connection, which must not get a query while another is under way).
 */
export async function reads<T extends readonly unknown[]>(em: EntityManager, tasks: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> {
  if (!em.isInTransaction()) return (await Promise.all(tasks.map((task) => task()))) as unknown as T;
  const out: unknown[] = [];
  for (const task of tasks) out.push(await task());
  return out as unknown as T;
}

/** A date as a query parameter in the database's own form (epoch ms on SQLite, a Date on PostgreSQL). */
export function dateParam(em: EntityManager, date: Date): unknown {
  return em.getPlatform().processDateProperty(date);
}

/** A datetime column of a plain row: a Date (PostgreSQL), epoch ms (SQLite, as a number or as text) or ISO text. */
export function asDate(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number' || typeof value === 'bigint') return new Date(Number(value));
  if (typeof value === 'string') {
    const ms = value.trim() === '' ? NaN : Number(value);
    return new Date(Number.isNaN(ms) ? value : ms);
  }
  return new Date(NaN);
}

/** `?, ?, ?` for `n` parameters. */
export function placeholders(n: number): string {
  return new Array(n).fill('?').join(', ');
}
