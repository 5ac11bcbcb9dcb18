import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initORM, type Orm } from '../src/orm';
import { plainRows } from '../src/services/plain-rows';

interface Pooled {
  __created: number;
}
interface Pool {
  acquireConnection(): Promise<Pooled>;
  releaseConnection(connection: Pooled): Promise<unknown>;
}

/**
 * SQLite's settings are per connection, and the pool may open another (MikroORM's SQLite dialect replaced its
 * pooled connection every 10 s): what the server sets must hold on every connection, not only the first.
 */
describe('the SQLite connection', () => {
  let dir: string;
  let orm: Orm;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crm-sqlite-'));
    orm = await initORM(join(dir, 'db.sqlite'));
  });
  afterAll(async () => {
    await orm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const setting = async (name: string) => Object.values((await plainRows(orm.fork(), `pragma ${name}`, []))[0])[0];

  it('keeps foreign keys on, the write-ahead log and synchronous=NORMAL on a connection the pool opened later', async () => {
    const pool = (orm.fork().getConnection() as unknown as { getKnex(): { client: Pool } }).getKnex().client;
    const first = await pool.acquireConnection();
    // As if it were older than the dialect's 10 s: the pool replaces it on the next acquire.
    first.__created = 0;
    await pool.releaseConnection(first);
    const second = await pool.acquireConnection();
    await pool.releaseConnection(second);
    expect(second).not.toBe(first);
    expect(Number(await setting('foreign_keys'))).toBe(1);
    expect(String(await setting('journal_mode'))).toBe('wal');
    // 1 is NORMAL (2, FULL, is SQLite's default: an fsync on every commit).
    expect(Number(await setting('synchronous'))).toBe(1);
  });

  it('keeps its connection past the dialect\'s 10 s (a replacement closed the database and prepared every statement again)', async () => {
    const pool = (orm.fork().getConnection() as unknown as { getKnex(): { client: Pool } }).getKnex().client;
    const first = await pool.acquireConnection();
    await pool.releaseConnection(first);
    const now = Date.now;
    Date.now = () => now() + 60_000;
    try {
      const later = await pool.acquireConnection();
      await pool.releaseConnection(later);
      expect(later).toBe(first);
    } finally {
      Date.now = now;
    }
  });
});
