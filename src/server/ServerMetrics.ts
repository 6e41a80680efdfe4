import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelReplicaStatus, ModelStatus } from '../actors/ModelActor/types.js';
import { ModelMessage } from '../actors/ModelActor/types.js';
import type { ModelManager } from '../entities/ModelManager.js';
import type { GenerationResult } from '../messaging/GenerationResult.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';

/**
 * Prometheus metrics of a server (prom-client): requests, tokens and time to first token counted
 * as they are served; queue depth, busy slots and tokens/s read from each running model's status
 * when scraped.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly tokens: Counter<'model'>;
  private readonly ttft: Histogram<'model'>;

  constructor(router: MessageRouter, models: ModelManager) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'llama_actors_http_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.tokens = new Counter({
      name: 'llama_actors_tokens_generated_total',
      help: 'Tokens generated for HTTP clients.',
      labelNames: ['model'],
      registers,
    });
    this.ttft = new Histogram({
      name: 'llama_actors_time_to_first_token_seconds',
      help: 'Time from request to first token.',
      labelNames: ['model'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    // Read from the models at scrape time, so the figures are never stale.
    const statusGauge = (name: string, help: string, pick: (s: ModelStatus) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['model'],
        registers,
        async collect() {
          this.reset();
          for (const model of await models.listModels()) {
            const running = models.running(model.id);
            if (!running) continue;
            const status = await running.ask(ModelMessage.Status, null, { timeout: 2_000 }).catch(() => undefined);
            const value = status ? pick(status) : undefined;
            if (value !== undefined) this.set({ model: model.id }, value);
          }
        },
      });
    statusGauge('llama_actors_queue_depth', 'Requests waiting for a slot.', (s) => s.queueDepth);
    statusGauge('llama_actors_busy_slots', 'Slots generating now.', (s) => s.busySlots);
    statusGauge('llama_actors_slots', 'Slots of the model.', (s) => s.slots);
    statusGauge('llama_actors_tokens_per_second', 'Aggregate decode rate over the last 5 s.', (s) => s.tokensPerSecond);
    // Models served by a host process (isolation 'process') only.
    statusGauge('llama_actors_model_host_up', 'Whether the model host process answers (1) or not (0).', (s) => (s.host ? Number(s.host.state === 'up') : undefined));
    statusGauge('llama_actors_model_host_restarts', 'Restarts of the model host process after it died.', (s) => s.host?.restarts);
    statusGauge('llama_actors_model_host_rss_bytes', 'Resident memory of the model host process.', (s) => s.host?.rssBytes);
    // Models served by workers of a NATS cluster (serve --nats) only.
    statusGauge('llama_actors_cluster_replicas', 'Workers serving the cluster model (its replicas).', (s) => s.cluster?.replicas.length);
    const replicaGauge = (name: string, help: string, pick: (r: ModelReplicaStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['model', 'worker'],
        registers,
        async collect() {
          this.reset();
          for (const model of await models.listModels()) {
            const status = await models.running(model.id)?.ask(ModelMessage.Status, null, { timeout: 2_000 }).catch(() => undefined);
            for (const replica of status?.cluster?.replicas ?? []) this.set({ model: model.id, worker: replica.worker }, pick(replica));
          }
        },
      });
    replicaGauge('llama_actors_cluster_replica_in_flight', "This front end's requests in flight on the replica.", (r) => r.inFlight);
    replicaGauge('llama_actors_cluster_replica_busy_slots', 'Slots generating on the replica (every front end).', (r) => r.busySlots);
    replicaGauge('llama_actors_cluster_replica_queue_depth', 'Requests waiting for a slot on the replica.', (r) => r.queueDepth);
  }

  /** Counts an answered request. */
  request(method: string, route: string, status: number): void {
    this.requests.inc({ method, route, status: String(status) });
  }

  /** Records a finished generation served over HTTP. */
  generation<S>(model: string, result: GenerationResult<S>): void {
    this.tokens.inc({ model }, result.tokenCount);
    if (result.timeToFirstTokenMs !== undefined) this.ttft.observe({ model }, result.timeToFirstTokenMs / 1000);
  }
}
