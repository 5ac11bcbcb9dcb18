import 'reflect-metadata';
import { wrap } from '@mikro-orm/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../dev/postgres';
import { CalendarIntegration } from '../src/entities/calendar-integration.entity';
import { User } from '../src/entities/user.entity';
import { initORM, type Orm } from '../src/orm';
import { findBy, findOneBy, plainRows, plainWrite } from '../src/services/plain-rows';

const databases = [
  {
    name: 'SQLite',
    start: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'crm-rows-'));
      return { url: join(dir, 'db.sqlite'), stop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'PostgreSQL', start: startPostgres },
];

describe.each(databases)('plain-row reads on $name', ({ start }) => {
  let db: { url: string; stop(): Promise<void> };
  let orm: Orm;
  let alice: User;
  let integration: CalendarIntegration;

  beforeAll(async () => {
    db = await start();
    orm = await initORM(db.url);
    const em = orm.fork();
    alice = em.create(User, { externalId: 'alice', tenantId: 't1', timezone: 'Europe/Berlin' });
    em.create(User, { externalId: 'bob', tenantId: 't1' });
    em.create(User, { externalId: 'alice', tenantId: 't2' });
    integration = em.create(CalendarIntegration, { user: alice, tenantId: 't1', appleId: 'alice@icloud.example', passwordCipher: 'sealed', principalUrl: 'p', homeUrl: 'h' });
    await em.flush();
  }, 60000);
  afterAll(async () => {
    await orm?.close();
    await db?.stop();
  });

  it('finds entities by their columns, typed as the ORM loads them, and only those', async () => {
    const em = orm.fork();
    const found = await findOneBy(em, User, { tenantId: 't1', externalId: 'alice' });
    expect(found).toMatchObject({ id: alice.id, externalId: 'alice', tenantId: 't1', timezone: 'Europe/Berlin' });
    expect(found!.createdAt).toBeInstanceOf(Date);
    expect(found!.createdAt.getTime()).toBe(alice.createdAt.getTime());
    expect(await findOneBy(em, User, { tenantId: 't3', externalId: 'alice' })).toBeNull();
    expect((await findBy(em, User, { tenantId: 't1' })).map((u) => u.externalId).sort()).toEqual(['alice', 'bob']);
    expect(await findBy(em, User, { tenantId: 't1' }, { limit: 1 })).toHaveLength(1);
    expect((await findBy(em, User, { tenantId: ['t1', 't2'] }, { orderBy: { tenantId: 'desc', externalId: 'asc' } })).map((u) => `${u.tenantId}/${u.externalId}`)).toEqual(['t2/alice', 't1/alice', 't1/bob']);
    expect(await findBy(em, User, { tenantId: [] })).toEqual([]);
  });

  it('returns managed entities: a change is flushed, and one held already keeps its unflushed change', async () => {
    const em = orm.fork();
    const bob = (await findOneBy(em, User, { tenantId: 't1', externalId: 'bob' }))!;
    bob.timezone = 'America/New_York';
    expect(await findOneBy(em, User, { id: bob.id })).toBe(bob);
    expect(bob.timezone).toBe('America/New_York');
    await em.flush();
    expect((await findOneBy(orm.fork(), User, { id: bob.id }))!.timezone).toBe('America/New_York');
  });

  it('fills in a reference another row pointed to, and reads by relation and by ids', async () => {
    const em = orm.fork();
    const [loaded] = await findBy(em, CalendarIntegration, { user: alice.id } as never);
    expect(loaded.id).toBe(integration.id);
    expect(wrap(loaded.user, true).isInitialized()).toBe(false);
    // A lazy column (the password's cipher text) is left out, as em.find leaves it, until populated.
    expect(loaded.passwordCipher).toBeUndefined();
    await em.populate(loaded, ['passwordCipher']);
    expect(loaded.passwordCipher).toBe('sealed');
    const [user] = await findBy(em, User, { id: [alice.id] });
    expect(user).toBe(loaded.user);
    expect(wrap(loaded.user, true).isInitialized()).toBe(true);
    expect(loaded.user.externalId).toBe('alice');
    expect(await findBy(em, User, { id: [] })).toEqual([]);
  });

  it('reads inside a transaction see its own writes, and after the commit every read does', async () => {
    const em = orm.fork();
    await em.transactional(async (tx) => {
      tx.create(User, { externalId: 'carol', tenantId: 't1' });
      await tx.flush();
      expect(await plainRows(tx, 'select external_id from "user" where external_id = ?', ['carol'])).toEqual([{ external_id: 'carol' }]);
    });
    expect(Number((await plainRows(orm.fork(), 'select count(*) as n from "user" where tenant_id = ? and external_id = ?', ['t1', 'carol']))[0].n)).toBe(1);
  });

  it('writes return how many rows they changed, and a write in a transaction rolled back leaves nothing', async () => {
    const sql = 'update "user" set timezone = ? where tenant_id = ? and external_id = ?';
    expect(await plainWrite(orm.fork(), sql, ['Asia/Tokyo', 't2', 'alice'])).toBe(1);
    expect(await plainWrite(orm.fork(), sql, ['Asia/Tokyo', 't2', 'nobody'])).toBe(0);
    await expect(
      orm.fork().transactional(async (tx) => {
        expect(await plainWrite(tx, sql, ['Europe/Paris', 't2', 'alice'])).toBe(1);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect((await findOneBy(orm.fork(), User, { tenantId: 't2', externalId: 'alice' }))!.timezone).toBe('Asia/Tokyo');
  });

  it('binds dates, booleans and nulls as the ORM stores them', async () => {
    const em = orm.fork();
    const [row] = await plainRows(em, 'select count(*) as n from "user" where created_at <= ? and (? = ?) and cast(? as text) is null', [new Date(Date.now() + 60000), true, true, null]);
    expect(Number(row.n)).toBeGreaterThanOrEqual(3);
    expect(await findBy(em, CalendarIntegration, { statusMessage: null, id: integration.id })).toHaveLength(1);
  });
});
