import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isObjectType } from 'graphql';
import { createEventBus } from '../src/pubsub';
import { createSchema, schemaSdl } from '../src/schema';

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
});
