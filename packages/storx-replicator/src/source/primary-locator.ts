import type { Logger } from '@storx-backup/service-kit';
import { hostOf } from './source-hosts.js';
import { readSourceOrigin } from './source-identity.js';
import { withSourceClient } from './source-connection.js';

/** No server named in `database` accepts writes right now (a promotion in progress, all down). */
export class NoPrimaryError extends Error {
  override readonly name = 'NoPrimaryError';
}

/**
 * The URL of the primary among `urls`: the server not in recovery. Streaming only ever comes
 * from it: a standby cannot decode for us, and its synced copy of the slot is only used once it
 * has been promoted. With one URL there is nothing to choose and nothing is checked (a standby
 * then fails at START_REPLICATION and is retried like any other failure).
 *
 * Two servers out of recovery is a split brain (the old primary started again after a
 * failover): the one on the higher timeline is the promoted one, and the receiver refuses the
 * other anyway (SOURCE_TIMELINE_FORKED). It is logged loudly.
 */
export async function findPrimary(urls: readonly string[], logger: Logger): Promise<string> {
  if (urls.length === 1) return urls[0]!;
  const states = await Promise.all(
    urls.map(async (url) => {
      try {
        const inRecovery = await withSourceClient(url, async (client) => (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r);
        return { url, inRecovery, error: undefined };
      } catch (error) {
        return { url, inRecovery: undefined, error: (error as Error).message };
      }
    }),
  );
  const primaries = states.filter((state) => state.inRecovery === false);
  if (primaries.length === 1) return primaries[0]!.url;
  const summary = states.map((state) => `${hostOf(state.url)}: ${state.error ?? (state.inRecovery ? 'standby' : 'primary')}`).join('; ');
  if (primaries.length === 0) throw new NoPrimaryError(`no primary among the source hosts (${summary}); waiting for one (a standby being promoted?)`);
  const timelines = await Promise.all(primaries.map(async (primary) => ({ url: primary.url, timeline: await readSourceOrigin(primary.url).then((origin) => origin.timeline, () => 0) })));
  timelines.sort((a, b) => b.timeline - a.timeline);
  logger.error({ hosts: summary, chosen: hostOf(timelines[0]!.url) }, 'split brain: more than one source host accepts writes; following the one on the highest timeline. Stop the other (an old primary must come back only as a standby: scripts/init-replica.sh)');
  return timelines[0]!.url;
}
