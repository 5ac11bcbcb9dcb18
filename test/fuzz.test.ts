import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSchema,
  getNamedType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  type GraphQLInputType,
} from 'graphql';
import { radicaleTarget, type CalDavTarget } from '../dev/caldav-targets';
import { startTestApp, type TestApp } from '../dev/app';
import { createIcalReader } from '../src/sync/ical/reader.pool';

const FIXTURES = join(__dirname, 'fixtures', 'ics');
const REAL = readdirSync(FIXTURES).filter((f) => f.endsWith('.ics')).map((f) => readFileSync(join(FIXTURES, f), 'utf8'));
const WINDOW = { start: new Date('2026-11-01T00:00:00Z'), end: new Date('2027-12-01T00:00:00Z') };

/** Lines an attacker or a broken client may slip into an object. */
const TRICKY = fc.constantFrom(
  'RRULE:FREQ=SECONDLY',
  'RRULE:FREQ=DAILY;BYMONTHDAY=31;BYMONTH=2',
  'RRULE:FREQ=YEARLY;COUNT=999999999',
  'RRULE:FREQ=WEEKLY;INTERVAL=0',
  'RRULE:FREQ=MONTHLY;BYDAY=-53MO',
  'RRULE:FREQ=DAILY;UNTIL=99991231T000000Z',
  'DTSTART:00000101T000000Z',
  'DTSTART;TZID=Nowhere/Land:20261201T090000',
  'DTSTART;VALUE=DATE:2026130',
  'DTEND:19700101T000000Z',
  'DURATION:-P99999W',
  'EXDATE:garbage',
  'RECURRENCE-ID:20261201T090000Z',
  'BEGIN:VEVENT',
  'END:VCALENDAR',
  'BEGIN:VTIMEZONE',
  'X-APPLE-TRAVEL-DURATION:P99999D',
  'ATTENDEE;PARTSTAT=DECLINED:mailto:x@y',
  'SUMMARY:\u0000\uffff',
);

/** A real object, changed: lines dropped, repeated or inserted, or the text cut short. */
const mutated = fc
  .record({
    base: fc.constantFrom(...REAL),
    edits: fc.array(fc.tuple(fc.constantFrom('drop', 'repeat', 'insert', 'cut'), fc.nat(), TRICKY), { minLength: 1, maxLength: 6 }),
  })
  .map(({ base, edits }) => {
    let lines = base.split(/\r?\n/);
    for (const [kind, at, line] of edits) {
      const i = at % Math.max(1, lines.length);
      if (kind === 'drop') lines.splice(i, 1);
      else if (kind === 'repeat') lines.splice(i, 0, lines[i] ?? '');
      else if (kind === 'insert') lines.splice(i, 0, line);
      else lines = lines.join('\r\n').slice(0, at % (lines.join('\r\n').length + 1)).split('\r\n');
    }
    return lines.join('\r\n');
  });

describe('fuzzing', () => {
  it('the iCalendar reader never crashes or hangs on random or mutated real-world objects: it reads them or says why not', async () => {
    // The reader the sync uses: worker threads with a CPU budget per object (here 2 s).
    const reader = createIcalReader({ budgetMs: 2000 });
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(mutated, fc.string({ maxLength: 2000 }), fc.string({ unit: 'binary', maxLength: 500 })), async (ics) => {
          const reading = await reader.read(ics, { timezone: 'Europe/Berlin', accountAddresses: ['x@y'], window: WINDOW });
          if ('malformed' in reading) {
            expect(reading.malformed.length).toBeLessThan(1000);
            return;
          }
          for (const b of reading.events.flatMap((e) => e.busy)) {
            expect(b.start.getTime()).toBeLessThan(b.end.getTime());
            expect(b.start < WINDOW.end && b.end > WINDOW.start).toBe(true);
          }
        }),
        { numRuns: 300 },
      );
    } finally {
      await reader.close();
    }
  });

  describe('every mutation, through the API', () => {
    let target: CalDavTarget;
    let app: TestApp;
    const schema = buildSchema(readFileSync(join(__dirname, '..', 'schema.graphql'), 'utf8'));
    const mutations = Object.values(schema.getMutationType()!.getFields());

    beforeAll(async () => {
      target = await radicaleTarget();
      app = await startTestApp({ caldavUrl: (await target.newAccount()).serverUrl });
    });
    afterAll(async () => {
      await app?.close();
      await target?.stop();
    });

    /** Values of the argument's type (mostly), and now and then of any JSON shape. */
    function valueOf(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
      if (type instanceof GraphQLNonNull) return valueOf(type.ofType, depth);
      if (type instanceof GraphQLList) return fc.array(valueOf(type.ofType, depth + 1), { maxLength: depth > 2 ? 0 : 4 });
      const named = getNamedType(type);
      const wild = fc.jsonValue({ maxDepth: 2 });
      if (named instanceof GraphQLEnumType) return fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...named.getValues().map((v) => v.name)) }, { weight: 1, arbitrary: wild });
      if (named instanceof GraphQLInputObjectType) {
        const fields = Object.fromEntries(Object.values(named.getFields()).map((f) => [f.name, valueOf(f.type, depth + 1)]));
        return fc.record(fields, { requiredKeys: Object.values(named.getFields()).filter((f) => f.type instanceof GraphQLNonNull).map((f) => f.name) });
      }
      const scalar = named as GraphQLScalarType;
      const typed: Record<string, fc.Arbitrary<unknown>> = {
        String: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.constantFrom('', ' ', '09:00', '25:99', 'Europe/Berlin', 'abcd-efgh-ijkl-mnop', 'a@b.c')),
        ID: fc.oneof(fc.uuid(), fc.string({ maxLength: 40 })),
        Int: fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 31 - 1)),
        Boolean: fc.boolean(),
        DateTimeISO: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string({ maxLength: 30 })),
      };
      return fc.oneof({ weight: 9, arbitrary: typed[scalar.name] ?? wild }, { weight: 1, arbitrary: wild });
    }

    it.each(mutations.map((m) => [m.name, m] as const))('%s answers clear errors for any input, never an internal error', async (_name, mutation) => {
      const args = mutation.args;
      const query = `mutation(${args.map((a) => `$${a.name}: ${a.type}`).join(', ')}) { ${mutation.name}(${args.map((a) => `${a.name}: $${a.name}`).join(', ')}) { __typename } }`;
      const variables = fc.record(Object.fromEntries(args.map((a) => [a.name, valueOf(a.type)])));
      const roles = fc.constantFrom('user', 'admin', 'support') as fc.Arbitrary<'user' | 'admin' | 'support'>;
      await fc.assert(
        fc.asyncProperty(variables, roles, async (vars, role) => {
          const res = await app.gql(app.token('fuzzer', 'tenant-f', role), query, vars);
          for (const error of res.errors ?? []) {
            expect(error.extensions?.code).toBeDefined();
            expect(error.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
            expect(JSON.stringify(error)).not.toMatch(/stacktrace|node_modules|\.ts:\d+/);
          }
        }),
        { numRuns: 25 },
      );
    });
  });
});
