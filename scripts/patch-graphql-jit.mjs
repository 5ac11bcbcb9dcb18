// Run by `npm ci` / `npm install` (postinstall): makes graphql-jit's compiled queries stop allocating on the
// common path of every list item and every built-in scalar. A 25-member page of `availableSlots` is 352 slots
// of up to 25 ids: graphql-jit 0.8.9 made two closures per list item, and for every leaf value an array of
// error locations, an array of its response path and two rest-parameter arrays, used only when the value is
// null or invalid. That was 0.6 MB of garbage per page, a third of all the server allocated for it.
//
// What changes, in the code graphql-jit generates (answers stay exactly the same):
// - a list item that is not a promise goes straight to its handler; a promise goes the old way;
// - a value of a built-in scalar (ID, String, Int, Float, Boolean) that graphql-js would serialize to itself
//   (a string for ID and String, an integer within 32 bits for Int, a finite number for Float, a boolean) is
//   taken as it is; anything else, null included, goes the old way, through the serializer and its errors.
//
// The patch is applied to the CommonJS and the ESM build, once (a marker says it is there). When the text it
// replaces is not found (graphql-jit's version changed), the install fails with what to do.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MARKER = '/* crm-calendar-core: leaf and list fast paths */';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'node_modules', 'graphql-jit', 'dist');

const listFrom = `  function \${safeMapHandler}(\${GLOBAL_EXECUTION_CONTEXT}, __currentItem, idx\${newDepth}, resultArray, \${parentIndexes}) {
    \${GLOBAL_RUNTIME_NAME}.handleListItemResult(`;
const listTo = `  function \${safeMapHandler}(\${GLOBAL_EXECUTION_CONTEXT}, __currentItem, idx\${newDepth}, resultArray, \${parentIndexes}) {
    if (!\${GLOBAL_RUNTIME_NAME}.isPromise(__currentItem)) { \${itemHandler}(\${GLOBAL_EXECUTION_CONTEXT}, resultArray, __currentItem, \${childIndexes}); return; }
    \${GLOBAL_RUNTIME_NAME}.handleListItemResult(`;

const leafFrom = `    const extraIndexes = parentIndexes ? \`, \${parentIndexes}\` : "";
    if (isNonNull) {`;
const leafTo = `    const extraIndexes = parentIndexes ? \`, \${parentIndexes}\` : "";
    ${MARKER}
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

let failed = false;
for (const file of ['execution.js', 'execution.mjs']) {
  const path = join(dist, file);
  if (!existsSync(path)) continue;
  const text = readFileSync(path, 'utf8');
  if (text.includes(MARKER)) continue;
  if (!text.includes(listFrom) || !text.includes(leafFrom)) {
    console.error(`scripts/patch-graphql-jit.mjs: ${path} is not the graphql-jit 0.8.9 this patch was written for. Pin graphql-jit to 0.8.9 in package.json, or update the patch to the new version (and check it with test/graphql-executor.test.ts).`);
    failed = true;
    continue;
  }
  writeFileSync(path, text.replace(listFrom, listTo).replace(leafFrom, leafTo));
}
if (failed) process.exit(1);
