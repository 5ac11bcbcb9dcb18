import { ApolloServer } from '@apollo/server';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import cors from 'cors';
import express from 'express';
import { GraphQLError, specifiedRules, validate, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { verifyToken, type Principal } from './auth/jwt';
import type { Config } from './config';
import type { Context } from './context';
import { AppError, createErrorFormatter } from './errors';
import { limitRules, LIMITS, refuseOversized } from './graphql-limits';
import { createWsPolicy } from './ws-policy';
import type { Logger } from './logger';
import { startHorizonJob } from './jobs/horizon.job';
import { startOutboxJob } from './jobs/outbox.job';
import { startReconcileJob, type ReconcileJob } from './jobs/reconcile.job';
import { createMetrics, type Metrics } from './metrics';
import { initORM, type Orm } from './orm';
import { createEventBus, type EventBus } from './pubsub';
import { compilingGateway } from './graphql-executor';
import { answerBytes, graphqlExpressHandler, graphqlPostHandler, MAX_BODY_BYTES, sendError } from './graphql-http';
import { createSchema } from './schema';
import { releaseAllLeases } from './sync/lease';
import { createServices, type Services } from './services';
import { introspectionRules, webUi } from './web-ui';
import { supportWriteRefusal } from './resolvers/visibility';

/** A running API server. */
export interface RunningServer {
  /** HTTP URL of the GraphQL endpoint, e.g. http://localhost:4000/graphql (WebSocket on the same path). */
  url: string;
  orm: Orm;
  services: Services;
  reconciler: ReconcileJob;
  /**
   * Shuts down gracefully: closes WebSockets with 1001 and a reason, stops scheduling work, lets sync runs
   * and pushes under way finish for up to `config.shutdownTimeoutSeconds` (then gives their leases back, so
   * another instance redoes them at once), and closes everything. Resolves with whether all work finished.
   */
  close(): Promise<boolean>;
}

const GRAPHQL_PATH = '/graphql';
const REQUEST_ID = 'x-request-id';

/** Gives the request an id (the caller's x-request-id when it is a sane one) and every answer carries it: logs can be matched to it. */
function withRequestId(req: IncomingMessage, res: ServerResponse): void {
  const incoming = req.headers[REQUEST_ID];
  const id = typeof incoming === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
  req.headers[REQUEST_ID] = id;
  res.setHeader(REQUEST_ID, id);
}

/** Operation names become metric labels: only well-formed ones, and at most this many distinct (a client picks them). */
const MAX_OPERATION_LABELS = 200;

/**
 * An Apollo plugin that counts and times every operation by name and outcome (ok, or the first error's code)
 * and logs it once, with the request id, the CRM user and tenant, the outcome and the duration.
 */
function observeOperations(metrics: Metrics, logger: Logger): ApolloServerPlugin<Context> {
  const seen = new Set<string>();
  const label = (name: string | null | undefined) => {
    if (!name || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return 'anonymous';
    if (!seen.has(name) && seen.size >= MAX_OPERATION_LABELS) return 'other';
    seen.add(name);
    return name;
  };
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operationName, response, request, contextValue }) {
          const operation = label(operationName);
          // The errors as sent, after `formatError` gave each its code.
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const outcome = errors?.length ? String(errors[0].extensions?.code ?? 'INTERNAL_SERVER_ERROR') : 'ok';
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          metrics.graphqlOperations.inc({ operation, outcome });
          metrics.graphqlDuration.observe({ operation }, seconds);
          const principal = (contextValue as Partial<Context> | undefined)?.principal;
          logger.info(
            { requestId: request.http?.headers.get(REQUEST_ID), operation: operationName?.slice(0, 64) ?? null, userId: principal?.sub, tenantId: principal?.tenantId, outcome, ms: Math.round(seconds * 1000) },
            'graphql request',
          );
        },
      };
    },
  };
}

const READY_TIMEOUT_MS = 2000;

/** What `/readyz` checks: the database answers and has every migration; Redis answers when configured. */
async function readiness(orm: Orm, events: EventBus, redis: boolean): Promise<Record<string, string>> {
  const checks: Record<string, string> = {};
  try {
    const pending = await orm.orm.getMigrator().getPendingMigrations();
    checks.database = pending.length ? `${pending.length} migration(s) not applied` : 'ok';
  } catch {
    checks.database = 'unreachable';
  }
  if (redis) {
    // ioredis queues commands while it reconnects: a probe must answer within its own deadline.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS)));
    checks.redis = await Promise.race([events.ping(), deadline]).then(() => 'ok', () => 'unreachable');
    clearTimeout(timer);
  }
  return checks;
}

function unauthenticated(e: unknown): GraphQLError {
  const message = e instanceof AppError ? e.message : 'Invalid token.';
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

/**
 * Connects the database (applying migrations), then serves GraphQL over HTTP (Apollo) and WebSocket
 * (graphql-ws) on `config.port` (0 picks a free port). Returns once it listens; throws when the
 * database or the port is unavailable.
 */
export async function startServer(config: Config, logger: Logger, events: EventBus = createEventBus(config.redisUrl)): Promise<RunningServer> {
  const orm = await initORM(config.databaseUrl);
  const metrics = createMetrics();
  const services = createServices(config, orm, events, logger, { metrics });
  const schema = await createSchema(events);
  const formatError = createErrorFormatter(logger, schema);
  const app = express();
  // A POST of JSON to the API goes straight to Apollo (graphql-http.ts); everything else through express.
  let graphqlPost: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  const httpServer: Server = createServer((req, res) => void (graphqlPost?.(req, res) || app(req, res)));
  const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH });
  const wsPolicy = createWsPolicy(config.jwtSecret);
  metrics.observe({
    outbox: () => services.outbox.stats(orm.fork()),
    integrationsByStatus: () => services.integrations.countByStatus(orm.fork()),
    openSubscriptions: () => wsPolicy.openSubscriptions(),
  });

  const wsCleanup = useServer<Record<string, unknown>, { principal?: Principal }>(
    {
      schema,
      validate: (s, document) => validate(s, document, [...specifiedRules, ...limitRules, ...introspectionRules(config)]),
      onConnect: (ctx) => wsPolicy.onConnect(ctx),
      onSubscribe: (ctx, _id, payload) => wsPolicy.onSubscribe(ctx, payload),
      context: (ctx): Context => ({ principal: ctx.extra.principal!, em: orm.fork(), services }),
      onNext: (_ctx, _id, _payload, _args, result) =>
        'errors' in result && result.errors ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON() as GraphQLFormattedError, e) as never) } : result,
    },
    wsServer,
  );

  const apollo = new ApolloServer<Context>({
    // Our schema, executed compiled once a query repeats (graphql-executor.ts).
    gateway: compilingGateway(schema, (operationName) => logger.debug({ operationName }, 'query compiled')),
    formatError,
    validationRules: limitRules,
    parseOptions: { maxTokens: LIMITS.maxTokens },
    includeStacktraceInErrorResponses: false,
    introspection: config.graphqlIntrospection,
    // Outside NODE_ENV=test Apollo stops itself on SIGTERM and SIGINT and then raises the signal again, which
    // killed the process (exit by signal) before `close()` below had drained the sync runs, given back their
    // leases and told subscribers to reconnect. The entry point's handler calls `close()`, which stops Apollo.
    stopOnTerminationSignals: false,
    // Answers as bytes made without one large string (src/json-bytes.ts), written by graphql-http.ts.
    stringifyResult: answerBytes,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // The IDE is ours (src/web-ui.ts, served from installed packages): never Apollo's page that loads a CDN.
      ApolloServerPluginLandingPageDisabled(),
      // No cache hints are used; Apollo's default cache-control plugin wrapped every field's resolver for them
      // (a few ms per 336-slot answer).
      ApolloServerPluginCacheControlDisabled(),
      observeOperations(metrics, logger),
      {
        async requestDidStart() {
          return {
            async didResolveOperation({ contextValue, document, operationName }) {
              const refused = supportWriteRefusal(contextValue.principal, document, operationName);
              if (refused) throw refused;
            },
          };
        },
      },
      { serverWillStart: async () => ({ drainServer: async () => wsCleanup.dispose() }) },
    ],
  });
  await apollo.start();

  app.use((req, res, next) => (withRequestId(req, res), next()));
  app.get('/healthz', (_req, res) => void res.json({ ok: true }));
  app.get('/readyz', async (_req, res) => {
    const checks = await readiness(orm, events, Boolean(config.redisUrl));
    res.status(Object.values(checks).every((c) => c === 'ok') ? 200 : 503).json(checks);
  });
  app.get('/metrics', async (req, res) => {
    if (config.metricsToken && req.headers.authorization !== `Bearer ${config.metricsToken}`) {
      return void res.status(401).json({ errors: [{ message: 'The metrics need the bearer token set in METRICS_TOKEN.', extensions: { code: 'UNAUTHENTICATED' } }] });
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(webUi(config)); // GraphiQL (/graphiql, a browser GET of /graphql), /dashboard and / (src/web-ui.ts)
  // Front ends send a bearer token, never cookies: listed origins (or any, with "*") may call the API.
  const allowOrigins = cors({ origin: config.corsOrigins.includes('*') ? true : config.corsOrigins, maxAge: 600 });
  const context = async (req: IncomingMessage): Promise<Context> => {
    try {
      return { principal: verifyToken(req.headers.authorization, config.jwtSecret), em: orm.fork(), services };
    } catch (e) {
      throw unauthenticated(e);
    }
  };
  graphqlPost = graphqlPostHandler({ apollo, path: GRAPHQL_PATH, context, logger, before: (req, res, next) => (withRequestId(req, res), allowOrigins(req, res, next)) });
  app.use(
    GRAPHQL_PATH,
    allowOrigins,
    express.json({ limit: MAX_BODY_BYTES }),
    // Refused before Apollo parses anything: a huge document costs CPU even when validation rejects it later.
    (req, res, next) => {
      const refused = req.method === 'POST' ? refuseOversized(req.body ?? {}) : undefined;
      if (!refused) return next();
      sendError(res, 400, refused.message, String(refused.extensions.code));
    },
    graphqlExpressHandler({ apollo, context }),
  );

  // Anything else, and any error before GraphQL (malformed JSON, a body over the limit), is answered in JSON
  // by us: never express's HTML page with a stack trace, whatever NODE_ENV says.
  app.use((_req, res) => void res.status(404).json({ errors: [{ message: `Not found: the API is at ${GRAPHQL_PATH}.`, extensions: { code: 'NOT_FOUND' } }] }));
  app.use((err: Error & { status?: number; type?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    const message =
      err.type === 'entity.parse.failed' ? 'The request body is not valid JSON.'
      : err.type === 'entity.too.large' ? 'The request body is larger than 1 MB.'
      : status < 500 ? 'The request cannot be read.'
      : 'Internal server error';
    if (status >= 500) logger.error({ err }, 'unexpected error outside GraphQL');
    sendError(res, status, message, status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR');
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, resolve);
  });
  const reconciler = startReconcileJob({
    orm,
    sync: services.sync,
    logger,
    cron: config.syncCron,
    concurrency: config.syncConcurrency,
    perHost: config.syncPerHost,
    leaseSeconds: config.syncLeaseSeconds,
  });
  const stopJobs = config.syncCron ? [startHorizonJob(orm, services.ical, events, logger), startOutboxJob(services.outbox)] : [];
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://localhost:${port}${GRAPHQL_PATH}`;
  logger.info({ url }, 'GraphQL server listening (HTTP and WebSocket)');
  return {
    url,
    orm,
    services,
    reconciler,
    close: async () => {
      // Subscribers hear why and reconnect (to another instance, behind a load balancer) rather than wait.
      for (const socket of wsServer.clients) socket.close(1001, 'The server is shutting down: reconnect.');
      const work = (async () => {
        await reconciler.stop();
        for (const stop of stopJobs) await stop();
        await services.outbox.idle();
      })();
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([work.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), config.shutdownTimeoutSeconds * 1000)))]);
      clearTimeout(timer);
      if (!finished) {
        const released = await releaseAllLeases(orm.fork(), [services.sync.owner, services.outbox.owner]);
        logger.warn({ released }, 'shutdown: work still under way after the timeout; its leases were given back for another instance to redo');
      }
      await apollo.stop();
      await services.busyIndex.close();
      await events.close();
      await services.ical.close();
      await orm.close();
      return finished;
    },
  };
}
