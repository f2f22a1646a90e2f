import type { Deployment } from '../deployment.js';
import { ourServices } from '../services/our-services.js';
import { healthcheckUrl, urlPort } from '../services/healthcheck-url.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Ports agree with the configuration: what a service listens on (the receiver's listen-port, the
 * replicator's metrics-listen) is declared in `ports:` or `expose:`, on an address other
 * containers reach; its health check probes that port with the right scheme; and a replicator's
 * webhook-url that names a service of the same file names a receiver, its port and /webhook.
 */
export function checkPorts(deployment: Deployment): string[] {
  const problems: string[] = [];
  const services = ourServices(deployment);
  for (const ours of services) {
    const config = ours.running?.config;
    if (!config) continue;
    const { service, where } = ours;
    const http = config.http;
    if (http) {
      if (LOOPBACK.has(http.host)) problems.push(`${where}: listens on ${http.host}:${http.port}, which no other container reaches`);
      const declared = [...service.ports.map((port) => port.target), ...service.expose];
      if (!declared.includes(http.port)) problems.push(`${where}: listens on port ${http.port}, but ports:/expose: declare ${declared.join(', ') || 'none'}`);
    }
    const health = healthcheckUrl(ours);
    if (health && !http) problems.push(`${where}: ${health.from} probes ${health.url?.href ?? 'nothing'}, but the service serves no HTTP (replication.metrics-listen is off)`);
    else if (health && http) {
      if (!health.url) problems.push(`${where}: ${health.from} probes no URL`);
      else if (urlPort(health.url) !== http.port || health.url.protocol !== `${http.scheme}:`) {
        problems.push(`${where}: ${health.from} probes ${health.url.href}, but the service serves ${http.scheme}://…:${http.port}`);
      }
    }
    const webhook = config.webhookUrl;
    if (webhook) {
      const receiver = services.find((candidate) => candidate.file === ours.file && candidate.service.name === webhook.hostname);
      if (LOOPBACK.has(webhook.hostname)) problems.push(`${where}: webhook-url ${webhook.href} points at the replicator's own container`);
      else if (receiver) {
        const served = receiver.running?.config?.http;
        if (receiver.kind.program !== 'backuptools-receiver' || !served) problems.push(`${where}: webhook-url ${webhook.href} names service ${webhook.hostname}, which is not a running receiver`);
        else if (urlPort(webhook) !== served.port || webhook.protocol !== `${served.scheme}:` || webhook.pathname !== '/webhook') {
          problems.push(`${where}: webhook-url ${webhook.href}, but ${webhook.hostname} serves ${served.scheme}://${webhook.hostname}:${served.port}/webhook`);
        }
      }
    }
  }
  return problems;
}
