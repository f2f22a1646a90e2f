import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../src/checks.js';
import { DOCKER_DIR } from '../src/deployment.js';
import { edited, withCompose } from './support.js';

// One deliberately broken compose file per check: each check must be able to fail, and say why.

describe('a broken compose file fails its check', () => {
  it('redis: a replica without its master, a template directory not mounted, a role that does not exist', () => {
    const noMaster = withCompose('replica-host', ['      REDIS_MASTER_HOST: ${REDIS_MASTER_HOST:?set REDIS_MASTER_HOST in .env}\n', '']);
    expect(CHECKS.redis(noMaster)).toEqual([expect.stringContaining('service redis: redis/redis-replica.conf does not render with its environment: redis-render-config: not set: REDIS_MASTER_HOST')]);
    const notMounted = withCompose('replica-host', ['REDIS_TEMPLATE_DIR: /opt/storx/redis', 'REDIS_TEMPLATE_DIR: /etc/redis']);
    expect(CHECKS.redis(notMounted)).toEqual([expect.stringContaining('REDIS_TEMPLATE_DIR /etc/redis is not a mount of redis')]);
    const badRole = withCompose('source-host', ['"${REDIS_ROLE:-master}"', '"primary"']);
    expect(CHECKS.redis(badRole)).toEqual([expect.stringContaining('redis-start.sh role "primary", not master or replica')]);
  });

  it('postgres standby: a misspelt variable, a script not mounted, a major that differs from the master, no replica healthcheck', () => {
    const misspelt = withCompose('replica-host', ['POSTGRES_MASTER_HOST: ${', 'POSTGRES_MASTER_ADDR: ${']);
    const problems = CHECKS['postgres standby'](misspelt);
    expect(problems).toContainEqual(expect.stringContaining('service postgres: init-replica.sh needs POSTGRES_MASTER_HOST, which the service does not set'));
    expect(problems).toContainEqual(expect.stringContaining('service postgres: POSTGRES_MASTER_ADDR is read neither by the postgres image nor by'));
    const notMounted = withCompose('replica-host', ['- ../../scripts:/opt/storx/scripts:ro\n    ports:\n      # Reachable', '- ../../redis:/opt/storx/scripts:ro\n    ports:\n      # Reachable']);
    expect(CHECKS['postgres standby'](notMounted)).toContainEqual(expect.stringContaining('service postgres: /opt/storx/scripts/init-replica.sh is redis/init-replica.sh, not scripts/init-replica.sh'));
    const otherMajor = withCompose('replica-host', ['image: postgres:17', 'image: postgres:16']);
    expect(CHECKS['postgres standby'](otherMajor)).toEqual([expect.stringContaining('replica-host/compose.yml: service postgres: image postgres:16 is PostgreSQL 16, its master (docker/source-host/compose.yml: service postgres) runs 17')]);
    const masterUnpinned = withCompose('source-host', ['image: postgres:17', 'image: postgres:latest']);
    expect(CHECKS['postgres standby'](masterUnpinned)).toEqual([expect.stringContaining('source-host/compose.yml: service postgres: image postgres:latest names no PostgreSQL major version')]);
    const noHealth = withCompose('replica-host', ['check-replication-status.sh", "replica"', 'check-replication-status.sh", "master"']);
    expect(CHECKS['postgres standby'](noHealth)).toEqual([expect.stringContaining('service postgres: its healthcheck does not run check-replication-status.sh replica')]);
  });

  it('compose syntax: a required variable that .env.example does not set', () => {
    const broken = withCompose('source-host', ['${WEBHOOK_URL:?set WEBHOOK_URL in .env}', '${RECEIVER_URL:?set RECEIVER_URL in .env}']);
    expect(CHECKS['compose syntax'](broken)).toEqual([expect.stringContaining('${RECEIVER_URL} is required')]);
  });

  it('builds: a Dockerfile that does not exist', () => {
    const broken = withCompose('local', ['dockerfile: docker/storx-replicator.Dockerfile', 'dockerfile: docker/replicator.Dockerfile']);
    expect(CHECKS.builds(broken)).toContainEqual(expect.stringMatching(/service replicator: Dockerfile docker\/replicator.Dockerfile does not exist/));
  });

  it('environment: a variable the service does not read', () => {
    const broken = withCompose('local', ['STORX_CONFIG:', 'STORX_CONFIG_FILE:']);
    expect(CHECKS.environment(broken)).toEqual([expect.stringContaining('service replicator: environment variable STORX_CONFIG_FILE is not read by storx-replicator')]);
  });

  it('mounts: a host file that does not exist, and an undeclared volume', () => {
    const broken = withCompose('local', ['./receiver.yaml:/etc', './receiver.yml:/etc'], ['- keys:/keys:ro', '- key:/keys:ro']);
    const problems = CHECKS.mounts(broken);
    expect(problems).toContainEqual(expect.stringContaining('docker/local/receiver.yml (mounted at /etc/backuptools/receiver.yaml) does not exist'));
    expect(problems).toContainEqual(expect.stringContaining('volume key (at /keys) is not declared'));
  });

  it('configs: an unknown key in the mounted config file, a key file on no volume', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-check-'));
    const config = edited(readFileSync(join(DOCKER_DIR, 'local', 'receiver.yaml'), 'utf8'), [
      ['listen-port: 8005', 'listen-prot: 8005'],
      ['"/keys/storx_signing_public.pem"', '"/secrets/storx_signing_public.pem"'],
    ]);
    writeFileSync(join(dir, 'receiver.yaml'), config);
    const unknownKey = withCompose('local', ['./receiver.yaml:/etc', `${dir}/receiver.yaml:/etc`]);
    expect(CHECKS.configs(unknownKey)).toEqual([expect.stringContaining('unknown option "listen-prot" (did you mean "listen-port"?)')]);
    writeFileSync(join(dir, 'receiver.yaml'), config.replace('listen-prot', 'listen-port'));
    expect(CHECKS.configs(unknownKey)).toEqual([expect.stringContaining('/secrets/storx_signing_public.pem (named in its configuration) is on none of its volumes')]);
  });

  it('key files: a key on a volume that no keys generate writes', async () => {
    const broken = withCompose('local', ['backuptools-receiver keys generate --out /keys', 'backuptools-receiver keys generate --name receiver --out /keys']);
    expect(await CHECKS['key files'](broken)).toEqual([
      expect.stringContaining('service receiver: /keys/backuptools_private.pem is on volume keys, but no keys generate of this file writes it there'),
      expect.stringContaining('service replicator: /keys/backuptools_public.pem is on volume keys, but no keys generate of this file writes it there'),
    ]);
  });

  it('commands: an unknown flag, an unknown command', async () => {
    const broken = withCompose('local', ['command: ["run"]', 'command: ["run", "--metrics-port", "9187"]'], ['command: ["serve"]', 'command: ["start"]']);
    const problems = await CHECKS.commands(broken);
    expect(problems).toContainEqual(expect.stringMatching(/service replicator: "storx-replicator run --metrics-port 9187" is refused by storx-replicator: .*--metrics-port/));
    expect(problems).toContainEqual(expect.stringMatching(/service receiver: "backuptools-receiver start" is refused by backuptools-receiver: unknown command "start/));
  });

  it('ports: a container port the service does not listen on, a webhook-url with the wrong port', () => {
    const broken = withCompose(
      'local',
      ['"127.0.0.1:8005:8005"', '"127.0.0.1:8005:8006"'],
      ['STORX_CONFIG: /etc/storx/replicator.yaml', 'STORX_CONFIG: /etc/storx/replicator.yaml\n      STORX_REPLICATION_WEBHOOK_URL: http://receiver:8006/webhook'],
    );
    expect(CHECKS.ports(broken)).toEqual([
      expect.stringContaining('service receiver: listens on port 8005, but ports:/expose: declare 8006'),
      expect.stringContaining('service replicator: webhook-url http://receiver:8006/webhook, but receiver serves http://receiver:8005/webhook'),
    ]);
  });

  it('ports: a health check on another port than metrics-listen', () => {
    const broken = withCompose('local', ['STORX_CONFIG: /etc/storx/replicator.yaml', 'STORX_CONFIG: /etc/storx/replicator.yaml\n      STORX_REPLICATION_METRICS_LISTEN: 0.0.0.0:9188']);
    expect(CHECKS.ports(broken)).toEqual([
      expect.stringContaining('service replicator: listens on port 9188, but ports:/expose: declare 9187'),
      expect.stringContaining("service replicator: the image's HEALTHCHECK probes http://127.0.0.1:9187/healthz, but the service serves http://…:9188"),
    ]);
  });

  it('shutdown: a stop_grace_period shorter than shutdown-timeout', () => {
    const broken = withCompose('local', ['stop_grace_period: 40s', 'stop_grace_period: 10s']);
    expect(CHECKS.shutdown(broken)).toEqual([expect.stringContaining('service receiver: stop_grace_period is 10s, shorter than the 30s')]);
  });
});
