import { type Deployment, MONITORING_FILES } from '../deployment.js';
import { repoPath } from '../repo.js';
import { servicesMounting } from './prometheus.js';

/**
 * In each compose file that runs Grafana with the dashboard: the dashboard is mounted into a
 * folder a provisioning provider loads, both provisioning files are mounted where Grafana reads
 * them, the provisioned datasource's URL is a service of that file that declares the port, and
 * every datasource uid the dashboard names is provisioned.
 */
export function checkGrafana(deployment: Deployment): string[] {
  const problems: string[] = [];
  const { grafana, dashboard } = deployment;
  for (const file of deployment.composeFiles) {
    const service = servicesMounting(file, MONITORING_FILES.dashboard)[0];
    if (!service) continue;
    const where = `${repoPath(file.path)}: service ${service.name}`;
    const targetOf = (hostPath: string): string | undefined => service.volumes.find((mount) => mount.kind === 'bind' && mount.source === hostPath)?.target;
    const dashboardTarget = targetOf(MONITORING_FILES.dashboard)!;
    if (!grafana.dashboardPaths.some((path) => dashboardTarget.startsWith(`${path.replace(/\/$/, '')}/`))) {
      problems.push(`${where}: the dashboard is mounted at ${dashboardTarget}, outside the provider folders ${grafana.dashboardPaths.join(', ') || '(none)'}`);
    }
    for (const [hostPath, folder] of [
      [MONITORING_FILES.datasources, '/etc/grafana/provisioning/datasources/'],
      [MONITORING_FILES.dashboardProviders, '/etc/grafana/provisioning/dashboards/'],
    ] as const) {
      const target = targetOf(hostPath);
      if (!target?.startsWith(folder)) problems.push(`${where}: ${repoPath(hostPath)} is mounted at ${target ?? 'nowhere'}, not in ${folder}`);
    }
    for (const source of grafana.datasources) {
      const url = URL.canParse(source.url) ? new URL(source.url) : undefined;
      if (!url) {
        problems.push(`${where}: datasource ${source.uid} has no URL`);
        continue;
      }
      const backend = file.services.find((candidate) => candidate.name === url.hostname);
      const declared = backend ? [...backend.ports.map((port) => port.target), ...backend.expose] : [];
      if (!declared.includes(Number(url.port))) problems.push(`${where}: datasource ${source.uid} points at ${source.url}, but no service ${url.hostname} declares port ${url.port}`);
    }
  }
  const uids = new Set(grafana.datasources.map((source) => source.uid));
  for (const uid of dashboard.datasourceUids) {
    if (!uids.has(uid)) problems.push(`${repoPath(MONITORING_FILES.dashboard)}: datasource uid ${uid} is not provisioned (${[...uids].join(', ') || 'none'})`);
  }
  return problems;
}
