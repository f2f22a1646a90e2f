import type pg from 'pg';
import { parseTimelineHistory, type SourceOrigin } from '@storx-backup/protocol';
import { sourceClient } from './source-connection.js';

/**
 * Which PostgreSQL history the server behind a replication connection writes: IDENTIFY_SYSTEM's
 * system identifier and timeline, and TIMELINE_HISTORY for a timeline after a promotion (where
 * each ancestor timeline ended). Every batch carries it, so that the receiver can refuse a
 * stream from another system or a forked timeline (see `judgeLineage`).
 */
export async function identifySource(replication: pg.Client): Promise<SourceOrigin> {
  const { rows } = await replication.query<{ systemid: string; timeline: string | number }>('IDENTIFY_SYSTEM');
  const systemId = String(rows[0]!.systemid);
  const timeline = Number(rows[0]!.timeline);
  if (timeline === 1) return { system_id: systemId, timeline, history: [] };
  const history = await replication.query<{ content: string | Buffer }>(`TIMELINE_HISTORY ${timeline}`);
  const content = history.rows[0]!.content;
  return { system_id: systemId, timeline, history: parseTimelineHistory(Buffer.isBuffer(content) ? content.toString('utf8') : content) };
}

/** `identifySource` on a replication connection of its own. */
export async function readSourceOrigin(databaseUrl: string): Promise<SourceOrigin> {
  const client = sourceClient(databaseUrl, { replication: true, applicationName: 'storx-replicator:identify' });
  client.on('error', () => undefined); // surfaces as a failed query
  await client.connect();
  try {
    return await identifySource(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
