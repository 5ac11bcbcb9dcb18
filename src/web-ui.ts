import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { NoSchemaIntrospectionCustomRule, parse, visit, type ValidationRule } from 'graphql';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import type { Config } from './config';

/** Validation rules that refuse `__schema` and `__type` when introspection is off (for Apollo and graphql-ws alike). */
export function introspectionRules(config: Pick<Config, 'graphqlIntrospection'>): ValidationRule[] {
  return config.graphqlIntrospection ? [] : [NoSchemaIntrospectionCustomRule];
}

/** Where `npm run build` puts the bundles: dist/web, seen from src/ (ts-jest) or dist/src (node); undefined before a build. */
function webDir(): string | undefined {
  return [join(__dirname, '..', 'dist', 'web'), join(__dirname, '..', 'web')].find((dir) => existsSync(join(dir, 'build.json')));
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The origin's host for a CSP source list: only a plain host[:port], else nothing (never echo a crafted Host). */
function wsSources(req: Request): string {
  const host = req.headers.host ?? '';
  return /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? ` ws://${host} wss://${host}` : '';
}

function page(res: Response, html: string, csp: string): void {
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('content-security-policy', csp);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cache-control', 'no-cache');
  res.send(html);
}

/** Serves built files under `root` (gzipped copies when the browser takes them); anything else goes on. */
function assets(root: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    let path: string;
    try {
      path = normalize(join(root, decodeURIComponent(req.path)));
    } catch {
      return next();
    }
    if (!path.startsWith(root + sep) || !TYPES[extname(path)] || !existsSync(path) || !statSync(path).isFile()) return next();
    const gzip = existsSync(`${path}.gz`) && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.setHeader('content-type', TYPES[extname(path)]);
    res.setHeader('x-content-type-options', 'nosniff');
    // File names of chunks and fonts carry a content hash; the entry files are revalidated by ETag.
    res.setHeader('cache-control', /-[A-Z0-9]{8}\.\w+$/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.setHeader('vary', 'accept-encoding');
    if (gzip) res.setHeader('content-encoding', 'gzip');
    res.sendFile(gzip ? `${path}.gz` : path, { etag: true, lastModified: false });
  };
}

/** True for a browser opening the URL: a GET with no operation, asking for HTML before JSON (as Apollo decides). */
function wantsPage(req: Request): boolean {
  return req.method === 'GET' && req.query.query === undefined && req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

/** Whether an operation reads `__schema` or `__type` (what Apollo refuses with `introspection: false`). */
function introspects(query: unknown): boolean {
  if (typeof query !== 'string' || !/__(schema|type)\b/.test(query)) return false;
  let found = false;
  try {
    visit(parse(query, { maxTokens: 3000 }), {
      Field(node) {
        if (node.name.value === '__schema' || node.name.value === '__type') found = true;
      },
    });
  } catch {
    return false; // Apollo answers the syntax error.
  }
  return found;
}

/**
 * The browser side of the server, mounted in front of the GraphQL route:
 * - `/graphiql`, and `/graphql` opened by a browser: GraphiQL bundled from this server's packages (no CDN),
 *   unless `GRAPHQL_IDE=false`; a GraphQL request (GET with `query`, POST) goes on to Apollo untouched.
 * - `/dashboard`: the live status dashboard (graphql-ws subscriptions).
 * - `/`: links to both.
 * With introspection off, an HTTP operation reading `__schema` or `__type` is refused here, before Apollo.
 */
export function webUi(config: Pick<Config, 'graphqlIde' | 'graphqlIntrospection'>): Router {
  const settings = { ide: config.graphqlIde, introspection: config.graphqlIntrospection };
  const root = webDir();
  const router = express.Router();
  if (!root) {
    // Only a checkout that was never built (e.g. jest without `npm run build`): the API itself is unaffected.
    const unbuilt = (_req: Request, res: Response) =>
      void res.status(503).json({ errors: [{ message: 'The browser pages are not built: run "npm run build".', extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
    router.get(['/dashboard', '/graphiql'], unbuilt);
    router.use('/graphql', (req, res, next) => (req.method === 'GET' && wantsPage(req) ? unbuilt(req, res) : next()));
    return router;
  }
  const html = (name: string) =>
    readFileSync(join(root, name), 'utf8')
      .replaceAll('%IDE_LINK_HIDDEN%', settings.ide ? '' : 'hidden');
  const pages = { index: html('index.html'), dashboard: html('dashboard/index.html'), ide: settings.ide ? html('graphiql/index.html') : '' };
  const strict = (req: Request) =>
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'${wsSources(req)}; ` +
    `base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  // Monaco (GraphiQL's editor) sets inline styles and runs web workers of its own.
  const ideCsp = (req: Request) =>
    `default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; ` +
    `img-src 'self' data:; connect-src 'self'${wsSources(req)}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  const ideOff = (res: Response) =>
    void res.status(404).json({ errors: [{ message: 'The GraphQL IDE is turned off on this server (GRAPHQL_IDE=false).', extensions: { code: 'NOT_FOUND' } }] });

  router.get('/', (req, res, next) => (req.accepts(['application/json', 'text/html']) === 'text/html' ? page(res, pages.index, strict(req)) : next()));
  router.get('/dashboard', (req, res) => page(res, pages.dashboard, strict(req)));
  router.use('/dashboard/', assets(join(root, 'dashboard')));
  router.get('/graphiql', (req, res) => (settings.ide ? page(res, pages.ide, ideCsp(req)) : ideOff(res)));
  if (settings.ide) router.use('/graphiql/', assets(join(root, 'graphiql')));
  // A browser opening the API URL gets the IDE (Apollo's own landing page, which loads from a CDN, is never reached).
  // `use`, not `get`: a router route for GET would answer the CORS preflight (OPTIONS) of the API itself.
  router.use('/graphql', (req, res, next) => (req.method !== 'GET' || !wantsPage(req) ? next() : settings.ide ? page(res, pages.ide, ideCsp(req)) : ideOff(res)));
  if (!settings.introspection) {
    router.use('/graphql', express.json({ limit: '1mb' }), (req, res, next) => {
      const query = req.method === 'GET' ? req.query.query : (req.body as { query?: unknown } | undefined)?.query;
      if (!introspects(query)) return next();
      res.status(400).json({ errors: [{ message: 'GraphQL introspection is turned off on this server (GRAPHQL_INTROSPECTION=false).', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    });
  }
  return router;
}
