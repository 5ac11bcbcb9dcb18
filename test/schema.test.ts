import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isObjectType, parse, specifiedRules, validate, type OperationDefinitionNode } from 'graphql';
import { getMetadataStorage } from 'type-graphql';
import { limitRules } from '../src/graphql-limits';
import { createEventBus } from '../src/pubsub';
import { createSchema, schemaSdl } from '../src/schema';
import { SCOPE, SNAPSHOT, SUBSCRIPTIONS } from '../web/dashboard/queries';
import { EXAMPLES } from '../web/graphiql/examples';

describe('the committed schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema` after changing the API)', async () => {
    const committed = readFileSync(join(__dirname, '..', 'schema.graphql'), 'utf8');
    expect(committed).toBe(schemaSdl(await createSchema(createEventBus())));
  });

  it('has no field that could return a password or a credential', async () => {
    const schema = await createSchema(createEventBus());
    const outputFields = Object.values(schema.getTypeMap())
      .filter((t) => isObjectType(t) && !t.name.startsWith('__'))
      .flatMap((t) => (isObjectType(t) ? Object.keys(t.getFields()) : []));
    expect(outputFields).toContain('accountEmail');
    expect(outputFields.filter((f) => /password|secret|cipher|credential|token/i.test(f))).toEqual([]);
  });

  it('resolves plain output fields by reading the property, with no per-field wrapper (simpleResolvers)', async () => {
    // type-graphql wraps every field of an object type in a resolver of its own unless the type says
    // `simpleResolvers: true`; graphql-jit then builds a ResolveInfo for each call. On a 340-slot page of
    // availableSlots that was a third of the answer's allocations. Only @FieldResolver fields may resolve.
    const schema = await createSchema(createEventBus());
    const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]);
    const storage = getMetadataStorage();
    const typeName = new Map(storage.objectTypes.map((t) => [t.target, t.name]));
    const fieldResolvers = new Set(storage.fieldResolvers.map((r) => `${typeName.get(r.getObjectType!())}.${r.schemaName}`));
    const resolving = Object.values(schema.getTypeMap())
      .filter((t) => isObjectType(t) && !t.name.startsWith('__') && !roots.has(t))
      .flatMap((t) => (isObjectType(t) ? Object.values(t.getFields()).filter((f) => f.resolve).map((f) => `${t.name}.${f.name}`) : []));
    expect(resolving.filter((field) => !fieldResolvers.has(field))).toEqual([]);
    // Each @FieldResolver is among them, named by its type and field (so the exceptions above are the right ones).
    expect(resolving.filter((field) => fieldResolvers.has(field)).sort()).toEqual([...fieldResolvers].sort());
  });
});

describe('the saved operations the GraphiQL IDE offers support', () => {
  it('are valid operations of the schema within the query limits, with variables that are JSON', async () => {
    const schema = await createSchema(createEventBus());
    for (const example of EXAMPLES) {
      expect([example.title, validate(schema, parse(example.query), [...specifiedRules, ...limitRules]).map((e) => e.message)]).toEqual([example.title, []]);
      if (example.variables) expect(() => JSON.parse(example.variables!)).not.toThrow();
    }
  });

  it('find an integration by Apple ID, show its history, its runs and warnings, and follow it live', () => {
    const operations = EXAMPLES.map((e) => ({ ...e, operation: (parse(e.query).definitions[0] as OperationDefinitionNode).operation }));
    const find = operations.find((e) => /supportIntegrations\(filter: \{ appleId: \$appleId \}/.test(e.query));
    for (const field of ['id', 'tenantId', 'userId', 'accountEmail', 'status', 'statusMessage', 'lastSyncedAt', 'nextSyncAt', 'failureCount', 'calendars', 'pageInfo', 'totalCount']) {
      expect(find?.query).toMatch(new RegExp(`\\b${field}\\b`));
    }
    expect(operations.some((e) => /integrationHistory\(id: \$id\)/.test(e.query))).toBe(true);
    expect(operations.some((e) => /recentSyncRuns/.test(e.query) && /conflictWarnings\(/.test(e.query))).toBe(true);
    expect(operations.filter((e) => e.operation === 'subscription').length).toBeGreaterThan(0);
    // The default tabs open with the look-up support does most.
    expect(operations.filter((e) => e.tab).map((e) => e.title)).toEqual(expect.arrayContaining([find!.title]));
  });
});

describe('the operations the live status dashboard sends', () => {
  it('are valid operations of the schema within the query limits (depth, cost, aliases)', async () => {
    const schema = await createSchema(createEventBus());
    for (const query of [SNAPSHOT, SCOPE, ...Object.values(SUBSCRIPTIONS)]) {
      expect([query.slice(0, 40), validate(schema, parse(query), [...specifiedRules, ...limitRules]).map((e) => e.message)]).toEqual([query.slice(0, 40), []]);
    }
  });
});
