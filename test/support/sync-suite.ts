import type { CalDavTarget } from '../../dev/caldav-targets';
import { syncFixture, type SyncFixture } from '../harness/sync-fixture';

/**
 * Registers beforeAll/afterAll for a suite of sync fixtures on one CalDAV server: the server starts once,
 * each `fixture()` connects a new account, and everything stops at the end.
 */
export function syncSuite<T extends CalDavTarget>(start: () => Promise<T>): { target(): T; fixture(): Promise<SyncFixture> } {
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
    fixture: async () => {
      const f = await syncFixture(target!);
      fixtures.push(f);
      return f;
    },
  };
}
