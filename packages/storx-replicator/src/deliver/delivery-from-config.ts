import type { Logger } from '@storx-backup/service-kit';
import type { ReplicatorConfig } from '../config.js';
import type { ReplicatorMetrics } from '../metrics.js';
import type { ReplicatorKeys } from '../replicator-keys.js';
import type { CatalogQuery } from '../source/source-catalog.js';
import { BatchDelivery } from './batch-delivery.js';
import { RelationMetadata } from './relation-metadata.js';
import { WebhookClient } from './webhook-client.js';

/** The delivery stage as configured; `run`, `status` and `doctor` all send through it. */
export function deliveryFromConfig(
  config: ReplicatorConfig,
  keys: ReplicatorKeys,
  deps: { catalog: CatalogQuery; metrics: ReplicatorMetrics; logger: Logger; timeoutMs?: number },
): { delivery: BatchDelivery; client: WebhookClient } {
  const client = new WebhookClient(config.webhookUrl, { timeoutMs: deps.timeoutMs ?? config.webhookTimeoutMs, connections: config.maxInFlight, ...(keys.ca ? { ca: keys.ca } : {}) });
  const delivery = new BatchDelivery({
    sourceId: config.sourceId,
    slot: config.slotName,
    format: config.format,
    recipient: keys.recipient,
    signingKeys: [keys.signing.key],
    retryDelayMs: config.retryDelayMs,
    maxRetryDelayMs: config.maxRetryDelayMs,
    blockedRetryIntervalMs: config.blockedRetryIntervalMs,
    url: config.webhookUrl,
    maxRetries: config.maxRetries,
    client,
    metadata: new RelationMetadata(deps.catalog),
    metrics: deps.metrics,
    logger: deps.logger,
  });
  return { delivery, client };
}
