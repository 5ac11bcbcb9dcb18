import type { CalDavTarget } from '../../dev/caldav-targets';
import { syncFixture, type SyncFixture } from '../harness/sync-fixture';

/**
 * Registers beforeAll/afterAll for a suite of sync fixtures on one CalDAV server: the server starts once,
 * each `fixture()` connects a new account (to a server started with `env`), and everything stops at the end.
 */
export function syncSuite<T extends CalDavTarget>(start: () => Promise<T>): { target(): T; fixture(env?: Record<string, string>): Promise<SyncFixture> } {
  let target: T | undefined;
  const fixtures: SyncFixture[] = [];
  beforeAll(async () => {
    target = await start();
  });
  afterAll(async () => {
    await Promise.all(fixtures.map((f) => f.app.close()));
    await target?.stop();
  });
  return {
    target: () => target!,
    fixture: async (env) => {
      const f = await syncFixture(target!, env);
      fixtures.push(f);
      return f;
    },
  };
}
