import { describe, expect, it } from 'vitest';
import { CHECKS } from '../src/checks.js';
import { withAlerts, withDashboard, withGrafanaDatasource, withPrometheus } from './support.js';

describe('a broken monitoring file fails its check', () => {
  it('prometheus: a target on the wrong port, a rule file that is not mounted', () => {
    const broken = withPrometheus(['"receiver:8005"', '"receiver:9187"'], ['- /etc/prometheus/alerts.yml', '- /etc/prometheus/rules.yml']);
    expect(CHECKS.prometheus(broken)).toEqual([
      expect.stringContaining('job backuptools-receiver: target receiver:9187, but receiver serves /metrics on port 8005'),
      expect.stringContaining('rule file /etc/prometheus/rules.yml is not mounted'),
    ]);
  });

  it('grafana: a datasource on a port Prometheus does not serve, a dashboard naming another datasource', () => {
    expect(CHECKS.grafana(withGrafanaDatasource(['http://prometheus:9090', 'http://prometheus:9091']))).toEqual([
      expect.stringContaining('datasource prometheus points at http://prometheus:9091, but no service prometheus declares port 9091'),
    ]);
    expect(CHECKS.grafana(withDashboard(['"uid": "prometheus"', '"uid": "prom"']))).toEqual([expect.stringContaining('datasource uid prom is not provisioned (prometheus)')]);
  });

  it('metric names: a metric that does not exist, a label it does not have, a job nobody scrapes', async () => {
    const broken = withAlerts(
      ['expr: storx_replicator_slot_lag_bytes > 1073741824', 'expr: storx_replicator_slot_lag > 1073741824'],
      ['{class!="http_4xx"}[10m]', '{klass!="http_4xx"}[10m]'],
      ['up{job="backuptools-receiver"}', 'up{job="receiver"}'],
    );
    expect(await CHECKS['metric names'](broken)).toEqual([
      'docker/monitoring/alerts.yml: rule BackuptoolsReceiverDown: job "receiver" is not a scrape job of docker/monitoring/prometheus.yml',
      'docker/monitoring/alerts.yml: rule StorxDeliveryFailing: storx_replicator_delivery_failures_total has no label klass (it has class)',
      'docker/monitoring/alerts.yml: rule StorxSlotLagHigh: storx_replicator_slot_lag is not a metric of either service',
    ]);
  });

  it('blocked alerts: one that waits too long, and a gauge no rule selects', () => {
    const slow = withAlerts(['expr: max by (instance, code) (storx_replicator_blocked) == 1\n', 'expr: max by (instance, code) (storx_replicator_blocked) == 1\n        for: 1m\n']);
    expect(CHECKS['blocked alerts'](slow)).toEqual([
      'docker/monitoring/alerts.yml: rule StorxReplicationBlocked on storx_replicator_blocked fires 90 s after the refusal at worst (scrape_interval + evaluation_interval of docker/monitoring/prometheus.yml + for), more than 60 s',
    ]);
    const missing = withAlerts(['(backuptools_source_blocked)', '(backuptools_watermark_lsn)']);
    expect(CHECKS['blocked alerts'](missing)).toEqual(['docker/monitoring/alerts.yml: no alert rule selects backuptools_source_blocked: a blocked pipeline would page nobody']);
  });

  it('metric names: a dashboard grouping by a label its series do not carry', async () => {
    const broken = withDashboard(['sum by (class) (rate(storx_replicator_delivery_failures_total', 'sum by (reason) (rate(storx_replicator_delivery_failures_total']);
    expect(await CHECKS['metric names'](broken)).toEqual([expect.stringContaining('query A: groups by reason, which none of its series carries')]);
  });
});
