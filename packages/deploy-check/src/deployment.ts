import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ComposeFile, loadComposeFile } from './compose/compose-file.js';
import { type Dockerfile, loadDockerfile } from './dockerfile/dockerfile.js';
import { type DockerIgnore, loadDockerignore } from './dockerfile/dockerignore.js';
import { loadAlertRules, type NamedQuery } from './monitoring/alert-rules.js';
import { type GrafanaDashboard, loadGrafanaDashboard } from './monitoring/grafana-dashboard.js';
import { type GrafanaProvisioning, loadGrafanaProvisioning } from './monitoring/grafana-provisioning.js';
import { loadPrometheusConfig, type PrometheusConfig } from './monitoring/prometheus-config.js';
import { REPO_ROOT } from './repo.js';

export const DOCKER_DIR = join(REPO_ROOT, 'docker');
const MONITORING_DIR = join(DOCKER_DIR, 'monitoring');

/** The monitoring files, by the names the compose files mount them under. */
export const MONITORING_FILES = {
  prometheus: join(MONITORING_DIR, 'prometheus.yml'),
  alerts: join(MONITORING_DIR, 'alerts.yml'),
  dashboard: join(MONITORING_DIR, 'grafana-dashboard.json'),
  datasources: join(MONITORING_DIR, 'grafana-datasource.yml'),
  dashboardProviders: join(MONITORING_DIR, 'grafana-dashboards.yml'),
} as const;

/** Everything under docker/ that the checks read, parsed. Tests swap one part for a broken one. */
export interface Deployment {
  composeFiles: readonly ComposeFile[];
  dockerfiles: readonly Dockerfile[];
  /** The root .dockerignore (the images' build context is the repository root). */
  dockerignore: DockerIgnore;
  prometheus: PrometheusConfig;
  alertRules: readonly NamedQuery[];
  dashboard: GrafanaDashboard;
  grafana: GrafanaProvisioning;
}

/** docker/<dir>/compose.yml, every docker/*.Dockerfile, docker/monitoring/*. */
export function loadDeployment(): Deployment {
  const entries = readdirSync(DOCKER_DIR, { withFileTypes: true });
  return {
    composeFiles: entries
      .filter((entry) => entry.isDirectory() && existsSync(join(DOCKER_DIR, entry.name, 'compose.yml')))
      .map((entry) => loadComposeFile(join(DOCKER_DIR, entry.name, 'compose.yml'))),
    dockerfiles: entries.filter((entry) => entry.isFile() && entry.name.endsWith('.Dockerfile')).map((entry) => loadDockerfile(join(DOCKER_DIR, entry.name))),
    dockerignore: loadDockerignore(join(REPO_ROOT, '.dockerignore')),
    prometheus: loadPrometheusConfig(MONITORING_FILES.prometheus),
    alertRules: loadAlertRules(MONITORING_FILES.alerts),
    dashboard: loadGrafanaDashboard(MONITORING_FILES.dashboard),
    grafana: loadGrafanaProvisioning(MONITORING_FILES.datasources, MONITORING_FILES.dashboardProviders),
  };
}
