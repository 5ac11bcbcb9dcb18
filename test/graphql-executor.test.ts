import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildSchema, getOperationAST, parse } from 'graphql';
import { COMPILE_AFTER_RUNS, compilingGateway } from '../src/graphql-executor';
import { dataOf, startTestApp, type TestApp } from '../dev/app';
import { postJson } from '../dev/http';

/**
 * Queries run by graphql-js until they repeat, then compiled (src/graphql-executor.ts): a compiled query
 * must answer exactly what graphql-js answered, data, errors, codes and paths alike.
 */
describe('compiled queries', () => {
  let app: TestApp;
  let calendarId = '';
  const admin = () => app.token('boss', 'tenant-a', 'admin');

  beforeAll(async () => {
    app = await startTestApp({ caldavUrl: 'http://127.0.0.1:9/' });
    const allDay = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '18:00' }));
    calendarId = (
      dataOf(
        await app.gql(admin(), `mutation($i: CreateCrmCalendarInput!) { createCrmCalendar(input: $i) { id } }`, {
          i: { name: 'Team', type: 'ROUND_ROBIN', timezone: 'Europe/Berlin', slotDurationMinutes: 45, openHours: allDay, teamMembers: [{ userId: 'ann', priority: 'HIGH' }, { userId: 'bob' }] },
        }),
      ).createCrmCalendar as { id: string }
    ).id;
  });
  afterAll(() => app.close());

  /** The answers of `runs` identical requests: the first ones from graphql-js, the rest compiled. */
  async function answers(token: string, query: string, variables?: Record<string, unknown>, runs = COMPILE_AFTER_RUNS + 2): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < runs; i++) out.push(JSON.stringify(await app.gql(token, query, variables)));
    return out;
  }

  const expectAllEqual = (list: string[]) => {
    for (const answer of list.slice(1)) expect(answer).toBe(list[0]);
  };

  it('answers a page of slots, nested lists and enums the same once compiled', async () => {
    const from = new Date(Math.ceil(Date.now() / 86400000) * 86400000 + 86400000);
    const list = await answers(
      admin(),
      `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) {
        availableSlots(calendarId: $c, from: $f, to: $t, timezone: "America/New_York") { startsAt endsAt startsAtLocal availableUserIds seatsLeft }
        crmCalendars { id name type roundRobinMode openHours { weekday start end } teamMembers { userId priority isPrimary } }
        viewer { __typename }
      }`,
      { c: calendarId, f: from.toISOString(), t: new Date(from.getTime() + 7 * 86400000).toISOString() },
    );
    expectAllEqual(list);
    const first = JSON.parse(list[0]);
    expect(first.errors).toBeUndefined();
    expect(first.data.availableSlots.length).toBeGreaterThan(50);
  });

  it('reports a resolver\'s error with the same message, code and path once compiled', async () => {
    const list = await answers(
      app.token('eve', 'tenant-b', 'admin'),
      `query($c: ID!) { mine: crmCalendars { id } other: availableSlots(calendarId: $c, from: "2030-01-01T00:00:00Z", to: "2030-01-02T00:00:00Z") { startsAt } }`,
      { c: calendarId },
    );
    expectAllEqual(list);
    expect(JSON.parse(list[0])).toEqual({ data: null, errors: [expect.objectContaining({ path: ['other'], extensions: { code: 'NOT_FOUND' } })] });
  });

  it('refuses bad variables with graphql-js\'s own messages however often they are sent', async () => {
    const query = `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt } }`;
    const good = { c: calendarId, f: '2030-01-01T00:00:00Z', t: '2030-01-02T00:00:00Z' };
    // Compiled first by good requests, then sent a bad one.
    await answers(admin(), query, good);
    const bad = await answers(admin(), query, { ...good, f: 'next tuesday' });
    expectAllEqual(bad);
    expect(JSON.parse(bad[0]).errors[0]).toEqual(expect.objectContaining({ message: expect.stringMatching(/^\$f: DateTime cannot represent/), extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) }));
  });

  it('serializes every built-in scalar as graphql-js does, values taken as they are and values coerced or refused alike', async () => {
    // scripts/patch-dependencies.mjs lets a value through as it is when graphql-js would answer it unchanged;
    // anything else must still reach the serializer, with graphql-js's coercions and errors.
    const schema = buildSchema(`type Query {
      ids: [ID!]! strings: [String!]! ints: [Int!]! floats: [Float!]! bools: [Boolean!]!
      id: ID string: String int: Int float: Float bool: Boolean
      badInt: Int badIntInList: [Int!] missing: String! missingInList: [ID!]
    }`);
    const values: Record<string, unknown> = {
      ids: ['a', 7, ''],
      strings: ['x', 3, true],
      ints: [1, -0, 2147483647, -2147483648, '12', true],
      floats: [1.5, 2, '2.5', false],
      bools: [true, false, 0, 1],
      id: 42,
      string: null,
      int: 3.0,
      float: 1e300,
      bool: 'yes',
      badInt: 2 ** 31,
      badIntInList: [1, 1.5],
      missing: null,
      missingInList: ['a', null],
    };
    for (const [name, field] of Object.entries(schema.getQueryType()!.getFields())) field.resolve = () => values[name];
    const gateway = compilingGateway(schema);
    gateway.onSchemaLoadOrUpdate(() => undefined);
    const { executor } = await gateway.load({ apollo: { graphRef: undefined, keyHash: undefined, key: undefined } as never });
    const answersOf = async (source: string) => {
      const document = parse(source);
      const out: unknown[] = [];
      for (let i = 0; i < COMPILE_AFTER_RUNS + 2; i++) out.push(await executor!({ document, operation: getOperationAST(document)!, context: {}, request: {} } as never));
      for (const answer of out.slice(1)) expect(answer).toEqual(out[0]);
      return out[0] as { data: Record<string, unknown> | null; errors?: { path: unknown[] }[] };
    };
    expect(await answersOf('{ ids strings ints floats bools id string int float }')).toEqual({
      data: { ids: ['a', '7', ''], strings: ['x', '3', 'true'], ints: [1, -0, 2147483647, -2147483648, 12, 1], floats: [1.5, 2, 2.5, 0], bools: [true, false, false, true], id: '42', string: null, int: 3, float: 1e300 },
    });
    const refused = await answersOf('{ bool badInt badIntInList missingInList }');
    expect(refused.data).toEqual({ bool: null, badInt: null, badIntInList: null, missingInList: null });
    expect(refused.errors!.map((e) => e.path)).toEqual([['bool'], ['badInt'], ['badIntInList', 1], ['missingInList', 1]]);
    expect((await answersOf('{ id missing }')).data).toBeNull();
    expect(readFileSync(require.resolve('graphql-jit/dist/execution.js'), 'utf8')).toContain('crm-calendar-core: leaf and list fast paths');
  });

  it('lets go of each answer once sent: young collections between pages promote nothing that grows with the answers', async () => {
    // scripts/patch-dependencies.mjs: Apollo's gateway request context kept every answer alive through young
    // collections until the next full GC, so each scavenge copied and then promoted all the answers since the last.
    setFlagsFromString('--expose-gc');
    setFlagsFromString('--no-allocation-site-pretenuring'); // as src/main.ts sets it
    const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    const from = new Date(Math.ceil(Date.now() / 86400000) * 86400000 + 86400000);
    const query = `query($c: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { availableSlots(calendarId: $c, from: $f, to: $t) { startsAt endsAt startsAtLocal availableUserIds seatsLeft } }`;
    // Raw bytes over one keep-alive connection: the client keeps nothing of an answer either.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = async (body: string) => (await postJson(agent, app.url, admin(), body, false)).size;
    const oldSpace = (s: { heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[] }) => s.heapSpaceStatistics.find((x) => x.spaceName === 'old_space')!.spaceUsedSize;
    const pages = 40;
    /** Bytes of one page of `days` days, and what young collections promoted while `pages` of them were served. */
    const served = async (days: number) => {
      const body = JSON.stringify({ query, variables: { c: calendarId, f: from.toISOString(), t: new Date(from.getTime() + days * 86400000).toISOString() } });
      let bytes = 0;
      for (let i = 0; i < 10; i++) bytes = await post(body);
      const profiler = new GCProfiler();
      profiler.start();
      for (let i = 0; i < pages; i++) {
        await post(body);
        await new Promise(setImmediate);
        gc({ type: 'minor' });
      }
      const promoted = profiler
        .stop()!
        .statistics.filter((s) => s.gcType === 'Scavenge')
        .reduce((sum, s) => sum + Math.max(0, oldSpace(s.afterGC) - oldSpace(s.beforeGC)), 0);
      return { bytes, promoted };
    };
    try {
      await served(1); // What stays promotes once: compiled code, caches, the connection.
      const small = await served(1);
      const large = await served(30);
      const moreBytes = pages * (large.bytes - small.bytes);
      console.log(`${pages} pages of ${small.bytes} and of ${large.bytes} bytes: young collections promoted ${small.promoted} and ${large.promoted} bytes`);
      // Retained answers were promoted at about three times their size in JSON; now the difference is noise.
      expect(large.promoted - small.promoted).toBeLessThan(moreBytes / 2);
    } finally {
      agent.destroy();
    }
  });

  it('compiles a query once it ran COMPILE_AFTER_RUNS times, once, and never a mutation', async () => {
    const schema = buildSchema(`type Query { hello(name: String!): String! } type Mutation { bump: Int! }`);
    let bumps = 0;
    schema.getQueryType()!.getFields().hello.resolve = (_root, { name }) => `hello ${name}`;
    schema.getMutationType()!.getFields().bump.resolve = () => ++bumps;
    const compiled: (string | undefined)[] = [];
    const gateway = compilingGateway(schema, (name) => compiled.push(name));
    gateway.onSchemaLoadOrUpdate(() => undefined);
    const { executor } = await gateway.load({ apollo: { graphRef: undefined, keyHash: undefined, key: undefined } as never });
    const run = (source: string, variables: Record<string, unknown> = {}) => {
      const document = parse(source);
      return (operationName?: string) => executor!({ document, operation: getOperationAST(document, operationName)!, operationName, context: {}, request: { variables } } as never);
    };
    const query = run('query Hi($n: String!) { hello(name: $n) }', { n: 'ann' });
    const mutation = run('mutation Bump { bump }');
    for (let i = 0; i < COMPILE_AFTER_RUNS + 3; i++) {
      expect(await query('Hi')).toEqual({ data: { hello: 'hello ann' } });
      expect(await mutation('Bump')).toEqual({ data: { bump: i + 1 } });
    }
    expect(compiled).toEqual(['Hi']);
  });
});
