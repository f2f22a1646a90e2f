import type { RedisServer } from '../topology-report.js';
import { type RedisAccess, redisAddress } from './redis-access.js';
import { connectedReplicas, parseInfo } from './redis-info.js';
import { RespError, redisCommands } from './resp-connection.js';

/**
 * One Redis server's replication state (AUTH, then INFO replication and stats): its role, its
 * offset, as a master its replicas, as a replica its link. The lag against the master is
 * filled in later (relateRedisToMaster), once every server is read.
 */
export async function readRedisServer(name: string, access: RedisAccess, timeoutMs: number): Promise<RedisServer> {
  const server: RedisServer = { name, reachable: false, error: null, role: null, repl_offset: null, repl_backlog_size: null, sync_full: null, sync_partial_ok: null, replicas: [], link: null };
  let replies;
  try {
    const { host, port } = redisAddress(name);
    replies = await redisCommands({ host, port, ca: access.ca, cert: access.cert, key: access.key }, [['AUTH', access.password], ['INFO', 'replication', 'stats']], timeoutMs);
  } catch (error) {
    server.error = (error as Error).message;
    return server;
  }
  server.reachable = true;
  const refused = replies.find((reply): reply is RespError => reply instanceof RespError);
  if (refused) {
    server.error = `refused: ${refused.message}`;
    return server;
  }
  const info = replies[1];
  if (typeof info !== 'string') {
    server.error = 'INFO did not answer with text: is this a Redis server?';
    return server;
  }
  const fields = parseInfo(info);
  const number = (field: string): number | null => (fields.has(field) ? Number(fields.get(field)) : null);
  server.role = fields.get('role') === 'master' ? 'master' : 'replica';
  server.repl_offset = number('master_repl_offset');
  server.repl_backlog_size = number('repl_backlog_size');
  server.sync_full = number('sync_full');
  server.sync_partial_ok = number('sync_partial_ok');
  server.replicas = connectedReplicas(fields).map(({ address, state, offset, lagSeconds }) => ({ address, state, offset, ack_seconds: lagSeconds }));
  if (server.role === 'replica') {
    const down = number('master_link_down_since_seconds');
    server.link = {
      master: `${fields.get('master_host') ?? '?'}:${fields.get('master_port') ?? '?'}`,
      status: fields.get('master_link_status') ?? 'unknown',
      last_io_seconds: number('master_last_io_seconds_ago') ?? -1,
      down_seconds: down === null || down < 0 ? null : down,
      sync_in_progress: fields.get('master_sync_in_progress') === '1',
      offset: number('slave_repl_offset') ?? 0,
      lag_bytes: null,
    };
  }
  return server;
}
