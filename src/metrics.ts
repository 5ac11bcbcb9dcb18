import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics (served at `/metrics`). One registry per server, not prom-client's global
 * one, so that several servers in one process (tests) do not share counters. The names are a contract with
 * operators' dashboards: change them only with a note in the README.
 */
export interface Metrics {
  registry: Registry;
  syncRuns: Counter<'outcome'>;
  syncRunDuration: Histogram;
  caldavRequests: Counter<'method' | 'status'>;
  graphqlOperations: Counter<'operation' | 'outcome'>;
  graphqlDuration: Histogram<'operation'>;
  /**
   * Registers the gauges read at scrape time from the database and the WebSocket server (outbox depth and
   * age, integrations by status, open subscriptions).
   */
  observe(sources: MetricSources): void;
}

/** What the scrape-time gauges read. */
export interface MetricSources {
  outbox(): Promise<{ depth: number; oldestAgeSeconds: number }>;
  integrationsByStatus(): Promise<Record<string, number>>;
  openSubscriptions(): number;
}

/** Returns a fresh set of the server's metrics, with prom-client's default process metrics unless `processMetrics` is false. */
export function createMetrics(processMetrics = true): Metrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    syncRuns: new Counter({ name: 'crm_calendar_sync_runs_total', help: 'Sync runs finished, by outcome (SUCCESS, PARTIAL, FAILED).', labelNames: ['outcome'], registers }),
    syncRunDuration: new Histogram({ name: 'crm_calendar_sync_run_duration_seconds', help: 'Duration of sync runs.', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers }),
    caldavRequests: new Counter({ name: 'crm_calendar_caldav_requests_total', help: 'CalDAV requests sent, by method and HTTP status ("error" when no answer came).', labelNames: ['method', 'status'], registers }),
    graphqlOperations: new Counter({ name: 'crm_calendar_graphql_operations_total', help: 'GraphQL operations over HTTP, by operation name and outcome (ok or the error code).', labelNames: ['operation', 'outcome'], registers }),
    graphqlDuration: new Histogram({ name: 'crm_calendar_graphql_duration_seconds', help: 'Duration of GraphQL operations over HTTP.', labelNames: ['operation'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
    observe(sources) {
      new Gauge({
        name: 'crm_calendar_outbox_depth',
        help: 'Outbox entries waiting to be pushed to iCloud.',
        registers,
        async collect() {
          this.set((await sources.outbox()).depth);
        },
      });
      new Gauge({
        name: 'crm_calendar_outbox_oldest_age_seconds',
        help: 'Age of the oldest outbox entry (0 when empty).',
        registers,
        async collect() {
          this.set((await sources.outbox()).oldestAgeSeconds);
        },
      });
      new Gauge({
        name: 'crm_calendar_integrations',
        help: 'Calendar integrations by status.',
        labelNames: ['status'],
        registers,
        async collect() {
          this.reset();
          for (const [status, n] of Object.entries(await sources.integrationsByStatus())) this.set({ status }, n);
        },
      });
      new Gauge({
        name: 'crm_calendar_subscriptions_open',
        help: 'GraphQL subscriptions open on this instance.',
        registers,
        collect() {
          this.set(sources.openSubscriptions());
        },
      });
    },
  };
}
