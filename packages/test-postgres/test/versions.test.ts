// Every supported major starts from its own embedded binaries and answers with that version.
import { describe, expect, it } from 'vitest';
import { PG_DEFAULT_MAJOR, PG_SUPPORTED_MAJORS, startCluster, withClient } from '../src/index.js';

describe('startCluster({ version })', () => {
  it.each(PG_SUPPORTED_MAJORS.filter((major) => major !== PG_DEFAULT_MAJOR))('starts PostgreSQL %i', async (major) => {
    const cluster = await startCluster({ name: `v${major}`, backend: 'embedded', version: major });
    try {
      expect(cluster.major).toBe(major);
      const server = await withClient(cluster.url, async (client) => (await client.query<{ major: number }>("SELECT current_setting('server_version_num')::int / 10000 AS major")).rows[0]!.major);
      expect(server).toBe(major);
    } finally {
      await cluster.stop();
    }
  });
});
