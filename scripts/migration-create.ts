import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ormOptions, type Dialect } from '../src/orm';
import { startPostgres } from '../dev/postgres';

/**
 * `npm run migration:create -- sqlite|postgresql`: diffs the entities against a scratch database that has
 * every committed migration applied, and writes the new migration to src/migrations/<dialect>/.
 * Add the printed class to that folder's index.ts.
 */
async function main(dialect: Dialect): Promise<void> {
  const pg = dialect === 'postgresql' ? await startPostgres() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'migration-'));
  try {
    const orm = await MikroORM.init(ormOptions(pg?.url ?? join(dir, 'scratch.sqlite')));
    const migrator = orm.getMigrator();
    await migrator.up();
    const result = await migrator.createMigration(undefined, false, (await migrator.getExecutedMigrations()).length === 0);
    console.log(result.fileName ? `written: src/migrations/${dialect}/${result.fileName}` : 'no changes: the schema is up to date');
    await orm.close();
  } finally {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const dialect = process.argv[2];
if (dialect !== 'sqlite' && dialect !== 'postgresql') {
  console.error('usage: npm run migration:create -- sqlite|postgresql');
  process.exit(2);
}
main(dialect).catch((e) => {
  console.error(e);
  process.exit(1);
});
