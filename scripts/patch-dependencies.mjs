// Run by `npm ci` / `npm install` (postinstall): two dependencies patched where they made every GraphQL answer
// cost the server far more than it should. Each patch is applied to the CommonJS and the ESM build, once (a
// marker says it is there); when the text it replaces is not found (the package's version changed), the
// install fails and says what to do. test/graphql-executor.test.ts checks both, and that answers stay the same.
//
// graphql-jit 0.8.9: its compiled queries allocated on the common path of every list item and every built-in
// scalar. A 25-member page of `availableSlots` is 352 slots of up to 25 ids: graphql-jit made two closures per
// list item, and for every leaf value an array of error locations, an array of its response path and two
// rest-parameter arrays, used only when the value is null or invalid. That was 0.6 MB of garbage per page, a
// third of all the server allocated for it. What changes, in the code graphql-jit generates:
// - a list item that is not a promise goes straight to its handler; a promise goes the old way;
// - a value of a built-in scalar (ID, String, Int, Float, Boolean) that graphql-js would serialize to itself
//   (a string for ID and String, an integer within 32 bits for Int, a finite number for Float, a boolean) is
//   taken as it is; anything else, null included, goes the old way, through the serializer and its errors.
//
// @apollo/server 5.5.1: the request context it hands a gateway's executor (how src/graphql-executor.ts runs
// compiled queries) had `response.http.status` as a getter and a setter written in an object literal: two new
// closures per request, so V8 gave every request's object a hidden class of its own. Hidden classes live in
// the old generation, and until the next full GC each one kept its closures, their request and its whole
// answer alive through every young collection: each scavenge copied and then promoted the answers of all the
// requests since the last one (about 2 MB, 5 to 12 ms: the p99 of a 25-member page). Now one class, with the
// getter and setter on its prototype, does the same.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const JIT_MARKER = '/* crm-calendar-core: leaf and list fast paths */';

const listFrom = `  function \${safeMapHandler}(\${GLOBAL_EXECUTION_CONTEXT}, __currentItem, idx\${newDepth}, resultArray, \${parentIndexes}) {
    \${GLOBAL_RUNTIME_NAME}.handleListItemResult(`;
const listTo = `  function \${safeMapHandler}(\${GLOBAL_EXECUTION_CONTEXT}, __currentItem, idx\${newDepth}, resultArray, \${parentIndexes}) {
    if (!\${GLOBAL_RUNTIME_NAME}.isPromise(__currentItem)) { \${itemHandler}(\${GLOBAL_EXECUTION_CONTEXT}, resultArray, __currentItem, \${childIndexes}); return; }
    \${GLOBAL_RUNTIME_NAME}.handleListItemResult(`;

const leafFrom = `    const extraIndexes = parentIndexes ? \`, \${parentIndexes}\` : "";
    if (isNonNull) {`;
const leafTo = `    const extraIndexes = parentIndexes ? \`, \${parentIndexes}\` : "";
    ${JIT_MARKER}
    const asItIs = {
      ID: \`typeof \${sourcePath} === "string"\`,
      String: \`typeof \${sourcePath} === "string"\`,
      Int: \`(Number.isInteger(\${sourcePath}) && \${sourcePath} <= 2147483647 && \${sourcePath} >= -2147483648)\`,
      Float: \`(typeof \${sourcePath} === "number" && Number.isFinite(\${sourcePath}))\`,
      Boolean: \`typeof \${sourcePath} === "boolean"\`,
    }[innerType.name];
    if (asItIs) {
      const checked = isNonNull
        ? \`\${GLOBAL_RUNTIME_NAME}.checkNonNullLeaf(\${GLOBAL_EXECUTION_CONTEXT}, \${sourcePath}, \${dest}, "Cannot return null for non-nullable field \${parentType.name}.\${getFieldNodesName(fieldNodes)}.", \${locs}, \${path}, \${capStack}, \${serializerRef}, \${errHandler}\${extraIndexes})\`
        : \`\${GLOBAL_RUNTIME_NAME}.checkNullableLeaf(\${GLOBAL_EXECUTION_CONTEXT}, \${sourcePath}, \${dest}, \${locs}, \${path}, \${capStack}, \${serializerRef}, \${errHandler}\${extraIndexes})\`;
      return \`(\${asItIs} ? \${sourcePath} : \${checked})\`;
    }
    if (isNonNull) {`;


const APOLLO_MARKER = '/* crm-calendar-core: one hidden class for the gateway response */';
const responseFrom = `    const response = {
        http: {
            headers: new FetcherHeadersForHeaderMap(newRequestContext.response.http.headers),
            get status() {
                return newRequestContext.response.http.status;
            },
            set status(newStatus) {
                newRequestContext.response.http.status = newStatus;
            },
        },
    };`;
const responseTo = `    const response = {
        http: new GatewayResponseHttp(newRequestContext.response.http),
    };`;
const classFrom = 'class FetcherHeadersForHeaderMap {';
const classTo = `${APOLLO_MARKER}
class GatewayResponseHttp {
    #http;
    constructor(http) {
        this.#http = http;
        this.headers = new FetcherHeadersForHeaderMap(http.headers);
    }
    get status() {
        return this.#http.status;
    }
    set status(newStatus) {
        this.#http.status = newStatus;
    }
}
class FetcherHeadersForHeaderMap {`;

const patches = [
  {
    name: 'graphql-jit',
    version: '0.8.9',
    files: ['node_modules/graphql-jit/dist/execution.js', 'node_modules/graphql-jit/dist/execution.mjs'],
    marker: JIT_MARKER,
    replacements: [
      [listFrom, listTo],
      [leafFrom, leafTo],
    ],
  },
  {
    name: '@apollo/server',
    version: '5.5.1',
    files: ['node_modules/@apollo/server/dist/cjs/utils/makeGatewayGraphQLRequestContext.js', 'node_modules/@apollo/server/dist/esm/utils/makeGatewayGraphQLRequestContext.js'],
    marker: APOLLO_MARKER,
    replacements: [
      [responseFrom, responseTo],
      [classFrom, classTo],
    ],
  },
];

let failed = false;
for (const patch of patches) {
  for (const file of patch.files) {
    const path = join(root, file);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    if (text.includes(patch.marker)) continue;
    if (!patch.replacements.every(([from]) => text.includes(from))) {
      console.error(`scripts/patch-dependencies.mjs: ${file} is not the ${patch.name} ${patch.version} this patch was written for. Pin ${patch.name} to ${patch.version} in package.json, or update the patch to the new version (and check it with test/graphql-executor.test.ts).`);
      failed = true;
      continue;
    }
    writeFileSync(path, patch.replacements.reduce((out, [from, to]) => out.replace(from, to), text));
  }
}
if (failed) process.exit(1);
