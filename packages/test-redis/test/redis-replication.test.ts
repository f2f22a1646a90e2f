import { statSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@storx-backup/test-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The e2e suite's TCP proxy, reused from its source: it cuts the replica's link on command.
import { FaultProxy } from '../../e2e/src/fault-proxy.js';
import { type RedisPair, runRedisScript, startRedisPair } from '../src/index.js';

/** The offsets and figures check-redis-status.sh printed, read back from its output. */
function behindBytes(output: string): number | undefined {
  const match = /behind (\d+) bytes/.exec(output);
  return match ? Number(match[1]) : undefined;
}

describe('Redis master and replica over TLS, from redis/*.conf and scripts/redis-*.sh', () => {
  let pair: RedisPair;
  beforeAll(async () => {
    pair = await startRedisPair();
  });
  afterAll(() => pair?.stop());

  it('makes keys private: the certificate directories 0700, the keys 0600', () => {
    for (const host of ['master-host', 'replica-host', 'ca']) expect(statSync(join(pair.certsDir, host)).mode & 0o777, host).toBe(0o700);
    for (const key of ['master-host/redis.key', 'replica-host/redis.key', 'ca/ca.key']) expect(statSync(join(pair.certsDir, key)).mode & 0o777, key).toBe(0o600);
  });

  it('a key written on the master is read on the replica; a write on the replica is refused', async () => {
    expect((await pair.master.cli(['SET', 'test_key', 'test_value'])).stdout.trim()).toBe('OK');
    await waitFor(async () => (await pair.replica.cli(['GET', 'test_key'])).stdout.trim() === 'test_value', { description: 'test_key on the replica' });
    const refused = await pair.replica.cli(['SET', 'test_key', 'from the replica']);
    expect(refused.stdout).toContain('READONLY');
    expect((await pair.master.cli(['GET', 'test_key'])).stdout.trim()).toBe('test_value');
    expect((await pair.replica.cli(['GET', 'test_key'])).stdout.trim()).toBe('test_value');
  });

  it('refuses a client without a certificate (the seed\'s command line) and a wrong password', async () => {
    const seedCommand = await pair.master.cli(['SET', 'test_key', 'no certificate'], { clientCertificate: false });
    expect(seedCommand.stdout).not.toContain('OK');
    expect(`${seedCommand.stdout}${seedCommand.stderr}`).toMatch(/I\/O error|Could not negotiate|closed the connection|SSL/i);
    const wrongPassword = await pair.master.cli(['SET', 'test_key', 'wrong password'], { password: 'not-the-password-at-all' });
    expect(`${wrongPassword.stdout}${wrongPassword.stderr}`).toMatch(/WRONGPASS|AUTH failed|NOAUTH/);
    // Neither changed anything.
    expect((await pair.master.cli(['GET', 'test_key'])).stdout.trim()).toBe('test_value');
    // And the status script, with the wrong password, is critical, not ok.
    const status = await runRedisScript('check-redis-status.sh', ['master'], { port: pair.master.port, tlsDir: pair.master.tlsDir, password: 'not-the-password-at-all' });
    expect(status.code).toBe(2);
  });

  it('check-redis-status.sh: both roles ok (exit 0) with matching offsets once the replica caught up', async () => {
    await pair.master.cli(['SET', 'another', 'value']);
    // The master learns the replica's offset from its acknowledgements (every second).
    const master = await waitFor(
      async () => {
        const result = await runRedisScript('check-redis-status.sh', ['master'], pair.master);
        return behindBytes(result.stdout) === 0 && result;
      },
      { description: 'the master to see its replica 0 bytes behind' },
    );
    expect(master.code, master.stdout + master.stderr).toBe(0);
    const offset = await pair.master.info('master_repl_offset');
    expect(master.stdout).toContain(`master_repl_offset ${offset}`);
    expect(master.stdout).toMatch(new RegExp(`replica 127\\.0\\.0\\.1:${pair.replica.port}: online, offset ${offset}, behind 0 bytes`));
    const replica = await runRedisScript('check-redis-status.sh', ['replica'], pair.replica);
    expect(replica.code, replica.stdout + replica.stderr).toBe(0);
    expect(replica.stdout).toContain(`master_repl_offset ${offset}, slave_repl_offset ${offset}: behind 0 bytes`);
    expect(replica.stdout).toContain('link to master 127.0.0.1');
    // The wrong role is critical.
    const wrongRole = await runRedisScript('check-redis-status.sh', ['master'], pair.replica);
    expect(wrongRole.code).toBe(2);
    expect(wrongRole.stdout).toContain('role replica, expected master');
  });
});

describe('a cut link resumes with a partial resync; promotion and the old master following the new one', () => {
  let pair: RedisPair;
  let proxy: FaultProxy;
  beforeAll(async () => {
    pair = await startRedisPair({
      replicaMasterPort: async (masterPort) => {
        proxy = await FaultProxy.start(masterPort);
        return proxy.port;
      },
    });
  });
  afterAll(async () => {
    await pair?.stop();
    await proxy?.close();
  });

  it('the replica is cut off while the master takes writes: status shows the link down, then a partial resync catches up', async () => {
    const fullBefore = Number(await pair.master.info('sync_full', 'stats'));
    const partialBefore = Number(await pair.master.info('sync_partial_ok', 'stats'));
    proxy.mode = 'reset';
    await waitFor(async () => (await pair.replica.info('master_link_status')) === 'down', { description: 'the link to go down', timeoutMs: 30_000 });
    const writes = Array.from({ length: 200 }, (_, i) => [`during-cut-${i}`, 'x'.repeat(100)]).flat();
    expect((await pair.master.cli(['MSET', ...writes])).stdout.trim()).toBe('OK');

    const replicaDown = await runRedisScript('check-redis-status.sh', ['replica'], pair.replica);
    expect(replicaDown.code, replicaDown.stdout).toBe(2);
    expect(replicaDown.stdout).toMatch(/link to master .*: down/);
    const masterAlone = await runRedisScript('check-redis-status.sh', ['master'], pair.master);
    expect(masterAlone.code, masterAlone.stdout).toBe(1);
    expect(masterAlone.stdout).toContain('no replica connected');
    const masterOffset = Number(await pair.master.info('master_repl_offset'));
    expect(masterOffset - Number(await pair.replica.info('slave_repl_offset'))).toBeGreaterThan(200 * 100);

    proxy.mode = 'pass';
    await waitFor(async () => (await pair.replica.cli(['GET', 'during-cut-199'])).stdout.trim() === 'x'.repeat(100), { description: 'the last write of the cut on the replica', timeoutMs: 30_000 });
    await waitFor(async () => Number(await pair.replica.info('slave_repl_offset')) >= masterOffset, { description: 'the replica to catch up' });
    expect(Number(await pair.master.info('sync_partial_ok', 'stats'))).toBe(partialBefore + 1);
    expect(Number(await pair.master.info('sync_full', 'stats'))).toBe(fullBefore);
    expect(pair.replica.log()).toContain('Successful partial resynchronization');
    const recovered = await runRedisScript('check-redis-status.sh', ['replica'], pair.replica);
    expect(recovered.code, recovered.stdout).toBe(0);
    expect(behindBytes(recovered.stdout)).toBe(0);
  });

  it('promotion: refused while the master answers; after it stops, the replica is writable; the old master follows the new one', async () => {
    await pair.master.cli(['SET', 'before-failover', '1']);
    await waitFor(async () => (await pair.replica.cli(['GET', 'before-failover'])).stdout.trim() === '1', { description: 'before-failover on the replica' });

    const refused = await runRedisScript('redis-promote.sh', [], pair.replica);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('still answers as a master');
    expect(await pair.replica.info('role')).toBe('slave');

    await pair.master.stop({ keepFiles: true });
    const promoted = await runRedisScript('redis-promote.sh', [], pair.replica);
    expect(promoted.code, promoted.stdout + promoted.stderr).toBe(0);
    expect(await pair.replica.info('role')).toBe('master');
    expect((await pair.replica.cli(['SET', 'after-failover', '2'])).stdout.trim()).toBe('OK');
    const newRole = await runRedisScript('check-redis-status.sh', ['master'], pair.replica);
    expect(newRole.stdout).toContain('role master');
    expect(newRole.stdout).toContain('no replica connected');

    // The old master comes back (as a master: its own config says so) and is pointed at the new one.
    await pair.master.restart();
    expect(await pair.master.info('role')).toBe('master');
    const follow = await runRedisScript('redis-follow.sh', ['127.0.0.1', String(pair.replica.port)], pair.master);
    expect(follow.code, follow.stdout + follow.stderr).toBe(0);
    expect(await pair.master.info('role')).toBe('slave');
    await waitFor(async () => (await pair.master.cli(['GET', 'after-failover'])).stdout.trim() === '2', { description: 'after-failover on the old master' });
    expect((await pair.master.cli(['SET', 'x', 'y'])).stdout).toContain('READONLY');
    const oldMaster = await runRedisScript('check-redis-status.sh', ['replica'], pair.master);
    expect(oldMaster.code, oldMaster.stdout).toBe(0);
    const newMaster = await runRedisScript('check-redis-status.sh', ['master'], pair.replica);
    expect(newMaster.code, newMaster.stdout).toBe(0);
  });
});
