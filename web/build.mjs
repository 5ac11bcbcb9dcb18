// Bundles the browser pages into dist/web with esbuild: run by `npm run build` (and so by `npm start`).
// Everything comes from installed packages; the pages load nothing from another origin.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const out = join(root, 'dist', 'web');
const started = Date.now();

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'linked',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

// The dashboard: plain TypeScript and the graphql-ws client.
await build({ ...common, entryPoints: { dashboard: join(web, 'dashboard', 'main.ts') }, outdir: join(out, 'dashboard'), format: 'esm' });

// GraphiQL (React, Monaco) and Monaco's web workers.
await build({
  ...common,
  entryPoints: { graphiql: join(web, 'graphiql', 'main.tsx') },
  outdir: join(out, 'graphiql'),
  format: 'esm',
  jsx: 'automatic',
  loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
  assetNames: '[name]-[hash]',
});
await build({
  ...common,
  entryPoints: Object.fromEntries(['editor', 'json', 'graphql'].map((w) => [`${w}.worker`, join(web, 'graphiql', 'workers', `${w}.worker.ts`)])),
  outdir: join(out, 'graphiql'),
  format: 'iife',
});

for (const page of ['index.html', 'dashboard/index.html', 'graphiql/index.html']) copyFileSync(join(web, page), join(out, page));

// Gzipped copies, served to browsers that take them; their sizes are what the pages cost over the wire.
const files = {};
const walk = (dir) => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]));
for (const file of walk(out)) {
  const body = readFileSync(file);
  const gzipped = gzipSync(body, { level: 9 });
  if (/\.(js|css|html|svg|ttf)$/.test(file) && !file.endsWith('.html')) writeFileSync(`${file}.gz`, gzipped);
  files[relative(out, file)] = { bytes: body.length, gzip: gzipped.length };
}
const sum = (prefix) => Object.entries(files).filter(([f]) => f.startsWith(prefix) && !f.endsWith('.LEGAL.txt')).reduce((n, [, s]) => n + s.gzip, 0);
const dashboard = sum('dashboard/');
writeFileSync(join(out, 'build.json'), JSON.stringify({ builtAt: new Date().toISOString(), dashboardGzipBytes: dashboard, files }, null, 2));
if (dashboard > 200 * 1024) throw new Error(`The dashboard's assets are ${dashboard} bytes gzipped: the budget is 200 KB.`);
console.log(`web: dist/web built in ${Date.now() - started} ms (dashboard ${(dashboard / 1024).toFixed(1)} KB gzipped, GraphiQL ${(sum('graphiql/') / 1024).toFixed(0)} KB gzipped)`);
