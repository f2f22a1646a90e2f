import { describe, expect, it } from 'vitest';
import { CHECKS } from '../src/checks.js';
import { loadDeployment } from '../src/deployment.js';
import { repoPath } from '../src/repo.js';
import { ourServices } from '../src/services/our-services.js';

// The real files under docker/. No Docker engine runs here: these checks are what stands in for
// building and starting the images (docker/README.md says so).
const deployment = loadDeployment();

describe('docker/ passes every check', () => {
  for (const [name, check] of Object.entries(CHECKS)) {
    it(name, async () => {
      expect(await check(deployment)).toEqual([]);
    });
  }
});

describe('the checks see what they are meant to check', () => {
  it('three compose files, two Dockerfiles, every service of ours configured through its loader', () => {
    expect(deployment.composeFiles.map((file) => repoPath(file.path)).sort()).toEqual(['docker/backup-host/compose.yml', 'docker/local/compose.yml', 'docker/replica-host/compose.yml', 'docker/source-host/compose.yml']);
    expect(deployment.dockerfiles.map((file) => repoPath(file.path)).sort()).toEqual(['docker/backuptools-receiver.Dockerfile', 'docker/storx-replicator.Dockerfile']);
    const running = ourServices(deployment)
      .filter((service) => service.running?.config)
      .map((service) => `${repoPath(service.file.path)} ${service.kind.program}`);
    expect(running.sort()).toEqual([
      'docker/backup-host/compose.yml backuptools-receiver',
      'docker/local/compose.yml backuptools-receiver',
      'docker/local/compose.yml storx-replicator',
      'docker/source-host/compose.yml storx-replicator',
    ]);
    const keygens = ourServices(deployment).filter((service) => service.invocations.some((run) => run.argv[0] === 'keys'));
    expect(keygens).toHaveLength(4);
  });

  it('the Redis master and replica are started by scripts/redis-start.sh in their roles; the topology exporter runs beside the replicator', () => {
    const redis = deployment.composeFiles.flatMap((file) => file.services.filter((service) => service.command?.some((word) => word.endsWith('/redis-start.sh'))).map((service) => `${repoPath(file.path)} ${service.command!.at(-1)!}`));
    expect(redis.sort()).toEqual(['docker/replica-host/compose.yml replica', 'docker/source-host/compose.yml master']);
    const topology = ourServices(deployment).filter((service) => service.invocations.some((run) => run.argv[0] === 'topology'));
    expect(topology.map((service) => service.where)).toEqual(['docker/source-host/compose.yml: service topology']);
  });

  it('the source host postgres prepares the streaming master at init; the replica host postgres runs init-replica.sh before the server', () => {
    const postgres = deployment.composeFiles.flatMap((file) => file.services.filter((service) => service.name === 'postgres').map((service) => ({ file: repoPath(file.path), service })));
    const source = postgres.find(({ file }) => file === 'docker/source-host/compose.yml')!.service;
    expect(source.volumes.map((mount) => mount.target)).toContain('/docker-entrypoint-initdb.d/20-streaming-master.sh');
    const standby = postgres.find(({ file }) => file === 'docker/replica-host/compose.yml')!.service;
    expect(standby.entrypoint!.join(' ')).toMatch(/gosu postgres sh \/opt\/storx\/scripts\/init-replica\.sh && exec docker-entrypoint\.sh postgres/);
    expect(standby.image).toBe(source.image);
  });

  it('Prometheus scrapes both services; the alert rules and the dashboard have queries', () => {
    expect(deployment.prometheus.jobs.map((job) => job.name).sort()).toEqual(['backuptools-receiver', 'storx-replicator']);
    expect(deployment.alertRules.length).toBeGreaterThanOrEqual(10);
    expect(deployment.dashboard.queries.length).toBeGreaterThanOrEqual(15);
  });
});
