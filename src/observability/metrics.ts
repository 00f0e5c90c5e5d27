/**
 * Prometheus metrics (prom-client), one registry per app so tests can run
 * several servers in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LATCHKEY_VERSION } from './build-info.js';

/** What the hash-queue gauges read; the queue itself lives in identity/. */
export interface HashQueueStats {
  readonly stats: { readonly waiting: number; readonly running: number };
}

export class Metrics {
  readonly registry = new Registry();
  readonly tokenRequests: Histogram<'grant_type' | 'outcome' | 'dialect'>;
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly securityEvents: Counter<'type' | 'reason'>;
  readonly connectionsRefused: Counter<'listener'>;

  constructor(hashQueue: HashQueueStats) {
    // No prefix: Node dashboards (Grafana's "NodeJS Application Dashboard", prom-client's own docs) query
    // process_cpu_seconds_total and nodejs_eventloop_lag_seconds by these names (issue #15 point 7).
    collectDefaultMetrics({ register: this.registry });
    // The info-metric idiom (Prometheus's own prometheus_build_info): a constant 1 whose label says which release runs.
    new Gauge({
      name: 'latchkey_build_info',
      help: 'Always 1; the version label is the Latchkey release this process runs (package.json).',
      labelNames: ['version'],
      registers: [this.registry],
    }).set({ version: LATCHKEY_VERSION }, 1);
    this.tokenRequests = new Histogram({
      name: 'latchkey_token_request_duration_seconds',
      help: 'Token endpoint requests by grant type and outcome (ok or the OAuth error code).',
      labelNames: ['grant_type', 'outcome', 'dialect'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.httpRequests = new Counter({
      name: 'latchkey_http_requests_total',
      help: 'HTTP requests by route and status.',
      labelNames: ['route', 'status'],
      registers: [this.registry],
    });
    this.securityEvents = new Counter({
      name: 'latchkey_security_events_total',
      help: 'Security events by type and reason code (login successes and failures, locks, throttles; docs/operations.md).',
      labelNames: ['type', 'reason'],
      registers: [this.registry],
    });
    this.connectionsRefused = new Counter({
      name: 'latchkey_http_connections_refused_total',
      help: 'Connections closed on arrival because the listener held its maximum (listen.max_connections for the public one).',
      labelNames: ['listener'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'latchkey_password_hash_queue_depth',
      help: 'Password verifications waiting for a slot.',
      registers: [this.registry],
      collect() {
        this.set(hashQueue.stats.waiting);
      },
    });
    new Gauge({
      name: 'latchkey_password_hash_in_flight',
      help: 'Password verifications running now.',
      registers: [this.registry],
      collect() {
        this.set(hashQueue.stats.running);
      },
    });
  }
}
