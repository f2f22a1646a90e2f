import { SERVICE_KINDS, type ServiceKind } from '../services/service-kinds.js';

/** A series name a query may use, and the labels it carries. */
export interface KnownMetric {
  name: string;
  labels: ReadonlySet<string>;
  /** The service that exports it; undefined for the series Prometheus makes itself (`up`). */
  kind: ServiceKind | undefined;
}

/** Labels Prometheus attaches to every scraped series. */
export const TARGET_LABELS: ReadonlySet<string> = new Set(['job', 'instance']);

/** Per-target series that Prometheus records itself; a query may use them like any other. */
const PROMETHEUS_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

/**
 * Every series name the two services expose, read from their real metric registries (the ones
 * /metrics serves), including the prefixed process and Node.js metrics. A histogram `x` is
 * queried as `x_bucket` (with `le`), `x_sum` and `x_count`; a summary as `x` (with `quantile`),
 * `x_sum` and `x_count`.
 */
export async function knownMetrics(): Promise<ReadonlyMap<string, KnownMetric>> {
  const known = new Map<string, KnownMetric>();
  for (const name of PROMETHEUS_SERIES) known.set(name, { name, labels: new Set(), kind: undefined });
  const registries = SERVICE_KINDS.flatMap((kind) => kind.metricsRegistries().map((registry) => ({ kind, registry })));
  for (const { kind, registry } of registries) {
    for (const metric of await registry.getMetricsAsJSON()) {
      const labelNames = (registry.getSingleMetric(metric.name) as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
      const add = (name: string, extra: readonly string[] = []): void => {
        known.set(name, { name, labels: new Set([...labelNames, ...extra]), kind });
      };
      switch (String(metric.type)) {
        case 'histogram':
          add(`${metric.name}_bucket`, ['le']);
          add(`${metric.name}_sum`);
          add(`${metric.name}_count`);
          break;
        case 'summary':
          add(metric.name, ['quantile']);
          add(`${metric.name}_sum`);
          add(`${metric.name}_count`);
          break;
        default:
          add(metric.name);
      }
    }
  }
  return known;
}
