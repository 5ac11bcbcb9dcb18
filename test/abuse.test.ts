import { SyncRun } from '../src/entities/sync-run.entity';
import { radicaleTarget } from './harness/caldav-targets';
import { dataOf } from './harness/app';
import { vevent } from './harness/phone';
import { dayAt, SYNC_RUN_FIELDS } from './harness/sync-fixture';
import { syncSuite } from './support/sync-suite';

/** Requests a hostile or careless client can send: each is refused cheaply or folded into work already under way. */
describe('abuse of the API', () => {
  const suite = syncSuite(radicaleTarget);

  it('joins parallel syncNow calls on one integration into one run instead of doing the work three times', async () => {
    const f = await suite.fixture();
    await f.phone.put('work', vevent('p1', dayAt(2, 9), dayAt(2, 10), 'P1'));
    const before = await f.app.server.orm.fork().count(SyncRun, { integration: f.integrationId });
    const sync = () => f.app.gql(f.token, `mutation($id: ID!) { syncNow(integrationId: $id) { ${SYNC_RUN_FIELDS} } }`, { id: f.integrationId });
    const runs = (await Promise.all([sync(), sync(), sync()])).map((r) => dataOf(r).syncNow);
    expect(new Set(runs.map((r) => r.id)).size).toBe(1);
    expect(runs[0]).toMatchObject({ outcome: 'SUCCESS', created: 1 });
    expect(await f.app.server.orm.fork().count(SyncRun, { integration: f.integrationId })).toBe(before + 1);
  });
});
