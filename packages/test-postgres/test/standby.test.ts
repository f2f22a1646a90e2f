import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgCluster, startCluster, startEmbeddedStandby, waitFor, withClient } from '../src/index.js';

let primary: PgCluster;
let standby: PgCluster;
beforeAll(async () => {
  primary = await startCluster({ name: 'sb-primary', backend: 'embedded' });
  await withClient(primary.url, (client) => client.query('CREATE TABLE t (v int); INSERT INTO t VALUES (1)'));
  standby = await startEmbeddedStandby({ name: 'sb-standby', primary, slotName: 'standby1_slot' });
});
afterAll(async () => {
  await Promise.allSettled([standby?.stop(), primary?.stop()]);
});

const count = (url: string): Promise<number> => withClient(url, async (client) => (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n);

describe('an embedded streaming standby (low-level base backup)', () => {
  it('starts in hot standby, streams from its slot, refuses writes, and becomes a primary on timeline 2 when promoted', async () => {
    expect(await withClient(standby.url, async (client) => (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r)).toBe(true);
    await withClient(primary.url, (client) => client.query('INSERT INTO t VALUES (2)'));
    await waitFor(async () => (await count(standby.url)) === 2, { description: 'the write on the primary to reach the standby', timeoutMs: 30_000 });
    const state = await withClient(primary.url, async (client) => (await client.query<{ state: string; active: boolean }>("SELECT r.state, s.active FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'standby1_slot'")).rows[0]);
    expect(state).toEqual({ state: 'streaming', active: true });
    await expect(withClient(standby.url, (client) => client.query('INSERT INTO t VALUES (3)'))).rejects.toThrow(/read-only transaction/);

    await withClient(standby.url, (client) => client.query('SELECT pg_promote(true, 60)'));
    await withClient(standby.url, (client) => client.query('INSERT INTO t VALUES (3)'));
    expect(await count(standby.url)).toBe(3);
  });
});
