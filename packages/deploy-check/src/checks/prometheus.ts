import type { ComposeFile, ComposeService } from '../compose/compose-file.js';
import { type Deployment, MONITORING_FILES } from '../deployment.js';
import { repoPath } from '../repo.js';
import { locate } from '../services/container-paths.js';
import { ourServices } from '../services/our-services.js';

/**
 * In each compose file that runs Prometheus with docker/monitoring/prometheus.yml: every scrape
 * target is `<service>:<port>` of a service of that file that serves /metrics there (the
 * receiver's listen-port, the replicator's metrics-listen), with the same scheme; every running
 * service of ours is scraped; and the rule files are where the alert rules are mounted.
 */
export function checkPrometheus(deployment: Deployment): string[] {
  const problems: string[] = [];
  const config = deployment.prometheus;
  const services = ourServices(deployment);
  for (const file of deployment.composeFiles) {
    const prometheus = servicesMounting(file, config.path)[0];
    if (!prometheus) continue;
    const where = `${repoPath(config.path)} (in ${repoPath(file.path)})`;
    const scraped = new Set<string>();
    for (const job of config.jobs) {
      for (const target of job.targets) {
        const [host, port] = target.split(':');
        const ours = services.find((candidate) => candidate.file === file && candidate.service.name === host);
        const http = ours?.running?.config?.http;
        if (!ours || !http) {
          problems.push(`${where}: job ${job.name}: target ${target} is not a running service of ours in that file`);
          continue;
        }
        scraped.add(ours.service.name);
        if (Number(port) !== http.port) problems.push(`${where}: job ${job.name}: target ${target}, but ${host} serves /metrics on port ${http.port}`);
        if (job.metricsPath !== '/metrics') problems.push(`${where}: job ${job.name}: metrics_path ${job.metricsPath}, but the services serve /metrics`);
        if (job.scheme !== http.scheme) problems.push(`${where}: job ${job.name}: scheme ${job.scheme}, but ${host} serves ${http.scheme}`);
      }
    }
    for (const ours of services.filter((candidate) => candidate.file === file && candidate.running?.config?.http)) {
      if (!scraped.has(ours.service.name)) problems.push(`${where}: no job scrapes service ${ours.service.name}`);
    }
    for (const ruleFile of config.ruleFiles) {
      const hostPath = locate(prometheus, ruleFile)?.hostPath;
      if (hostPath !== MONITORING_FILES.alerts) problems.push(`${where}: rule file ${ruleFile} is ${hostPath ? `mounted from ${repoPath(hostPath)}` : 'not mounted'}, not ${repoPath(MONITORING_FILES.alerts)}`);
    }
    if (config.ruleFiles.length === 0) problems.push(`${where}: loads no rule files: the alerts would never fire`);
  }
  return problems;
}

/** The services of a file that bind-mount this host file. */
export function servicesMounting(file: ComposeFile, hostPath: string): ComposeService[] {
  return file.services.filter((service) => service.volumes.some((mount) => mount.kind === 'bind' && mount.source === hostPath));
}
