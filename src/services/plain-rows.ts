import type { EntityManager } from '@mikro-orm/core';

/**
 * Plain rows of a read-only query, in the EntityManager's transaction when it has one: no entity is built
 * or tracked. `sql` uses `?` placeholders and the tables' column names (the same on SQLite and PostgreSQL).
 */
export async function plainRows(em: EntityManager, sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  return (await em.getConnection().execute(sql, params, 'all', em.getTransactionContext())) as Record<string, unknown>[];
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
