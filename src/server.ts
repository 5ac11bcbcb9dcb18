import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express from 'express';
import { GraphQLError, specifiedRules, validate, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createServer, type Server } from 'node:http';
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
import { initORM, type Orm } from './orm';
import { createEventBus, type EventBus } from './pubsub';
import { createSchema } from './schema';
import { createServices, type Services } from './services';

/** A running API server. */
export interface RunningServer {
  /** HTTP URL of the GraphQL endpoint, e.g. http://localhost:4000/graphql (WebSocket on the same path). */
  url: string;
  orm: Orm;
  services: Services;
  reconciler: ReconcileJob;
  close(): Promise<void>;
}

const GRAPHQL_PATH = '/graphql';

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
  const services = createServices(config, orm, events, logger);
  const schema = await createSchema(events);
  const formatError = createErrorFormatter(logger);
  const app = express();
  const httpServer: Server = createServer(app);
  const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH });
  const wsPolicy = createWsPolicy(config.jwtSecret);

  const wsCleanup = useServer<Record<string, unknown>, { principal?: Principal }>(
    {
      schema,
      validate: (s, document) => validate(s, document, [...specifiedRules, ...limitRules]),
      onConnect: (ctx) => wsPolicy.onConnect(ctx),
      onSubscribe: (ctx, _id, payload) => wsPolicy.onSubscribe(ctx, payload),
      context: (ctx): Context => ({ principal: ctx.extra.principal!, em: orm.fork(), services }),
      onNext: (_ctx, _id, _payload, _args, result) =>
        'errors' in result && result.errors ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON() as GraphQLFormattedError, e) as never) } : result,
    },
    wsServer,
  );

  const apollo = new ApolloServer<Context>({
    schema,
    formatError,
    validationRules: limitRules,
    parseOptions: { maxTokens: LIMITS.maxTokens },
    includeStacktraceInErrorResponses: false,
    introspection: true,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      { serverWillStart: async () => ({ drainServer: async () => wsCleanup.dispose() }) },
    ],
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => void res.json({ ok: true }));
  app.use(
    GRAPHQL_PATH,
    // Front ends send a bearer token, never cookies: listed origins (or any, with "*") may call the API.
    cors({ origin: config.corsOrigins.includes('*') ? true : config.corsOrigins, maxAge: 600 }),
    express.json({ limit: '1mb' }),
    // Refused before Apollo parses anything: a huge document costs CPU even when validation rejects it later.
    (req, res, next) => {
      const refused = req.method === 'POST' ? refuseOversized(req.body ?? {}) : undefined;
      if (!refused) return next();
      res.status(400).json({ errors: [{ message: refused.message, extensions: { code: refused.extensions.code } }] });
    },
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        try {
          return { principal: verifyToken(req.headers.authorization, config.jwtSecret), em: orm.fork(), services };
        } catch (e) {
          throw unauthenticated(e);
        }
      },
    }),
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
    res.status(status).json({ errors: [{ message, extensions: { code: status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR' } }] });
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
  const stopJobs = config.syncCron ? [startHorizonJob(orm, services.ical, logger), startOutboxJob(services.outbox)] : [];
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://localhost:${port}${GRAPHQL_PATH}`;
  logger.info({ url }, 'GraphQL server listening (HTTP and WebSocket)');
  return {
    url,
    orm,
    services,
    reconciler,
    close: async () => {
      await reconciler.stop();
      for (const stop of stopJobs) await stop();
      await services.outbox.idle();
      await apollo.stop();
      await events.close();
      await services.ical.close();
      await orm.close();
    },
  };
}
