import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { createEventBus } from '../src/pubsub';
import { createSchema, schemaSdl } from '../src/schema';

/** `npm run schema`: writes schema.graphql from the code (a test fails when the committed file is stale). */
createSchema(createEventBus()).then((schema) => {
  writeFileSync('schema.graphql', schemaSdl(schema));
  console.log('schema.graphql written');
});
