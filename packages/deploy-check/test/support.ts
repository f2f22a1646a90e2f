import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseComposeFile } from '../src/compose/compose-file.js';
import { readEnvExample } from '../src/compose/env-file.js';
import { type Deployment, DOCKER_DIR, loadDeployment, MONITORING_FILES } from '../src/deployment.js';
import { parseDockerfile } from '../src/dockerfile/dockerfile.js';
import { DockerIgnore } from '../src/dockerfile/dockerignore.js';
import { parseAlertRules } from '../src/monitoring/alert-rules.js';
import { parseGrafanaDashboard } from '../src/monitoring/grafana-dashboard.js';
import { parseGrafanaProvisioning } from '../src/monitoring/grafana-provisioning.js';
import { parsePrometheusConfig } from '../src/monitoring/prometheus-config.js';
import { REPO_ROOT } from '../src/repo.js';

/** The real deployment, parsed once. */
export const deployment: Deployment = loadDeployment();

/** `[from, to]`: replace every occurrence of `from`, which must occur (an edit that misses would test nothing). */
export type Edit = readonly [from: string, to: string];

export function edited(text: string, edits: readonly Edit[]): string {
  return edits.reduce((result, [from, to]) => {
    if (!result.includes(from)) throw new Error(`the edit expects ${JSON.stringify(from)} in the file`);
    return result.replaceAll(from, to);
  }, text);
}

/** The deployment with docker/<dir>/compose.yml edited (same path, so relative paths resolve as before). */
export function withCompose(dir: 'local' | 'source-host' | 'backup-host' | 'replica-host', ...edits: Edit[]): Deployment {
  const path = join(DOCKER_DIR, dir, 'compose.yml');
  const file = parseComposeFile(edited(readFileSync(path, 'utf8'), edits), path, readEnvExample(join(dirname(path), '.env.example')));
  return { ...deployment, composeFiles: deployment.composeFiles.map((original) => (original.path === path ? file : original)) };
}

export function withDockerfile(name: 'storx-replicator' | 'backuptools-receiver', ...edits: Edit[]): Deployment {
  const path = join(DOCKER_DIR, `${name}.Dockerfile`);
  const stages = parseDockerfile(edited(readFileSync(path, 'utf8'), edits));
  return { ...deployment, dockerfiles: deployment.dockerfiles.map((original) => (original.path === path ? { path, stages } : original)) };
}

export function withDockerignore(...edits: Edit[]): Deployment {
  return { ...deployment, dockerignore: new DockerIgnore(edited(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'), edits)) };
}

export function withPrometheus(...edits: Edit[]): Deployment {
  return { ...deployment, prometheus: parsePrometheusConfig(edited(readFileSync(MONITORING_FILES.prometheus, 'utf8'), edits), MONITORING_FILES.prometheus) };
}

export function withAlerts(...edits: Edit[]): Deployment {
  return { ...deployment, alertRules: parseAlertRules(edited(readFileSync(MONITORING_FILES.alerts, 'utf8'), edits)) };
}

export function withDashboard(...edits: Edit[]): Deployment {
  return { ...deployment, dashboard: parseGrafanaDashboard(edited(readFileSync(MONITORING_FILES.dashboard, 'utf8'), edits)) };
}

export function withGrafanaDatasource(...edits: Edit[]): Deployment {
  return {
    ...deployment,
    grafana: parseGrafanaProvisioning(edited(readFileSync(MONITORING_FILES.datasources, 'utf8'), edits), readFileSync(MONITORING_FILES.dashboardProviders, 'utf8')),
  };
}
