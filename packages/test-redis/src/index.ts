export { makeRedisCerts, type TlsDir } from './redis-certs.js';
export { infoField, redisCli, type CliOptions, type CliResult, type CliTarget } from './redis-cli.js';
export { RedisServer, type StartRedisOptions } from './redis-server.js';
export { REPO_ROOT } from './repo.js';
export { startRedisPair, type RedisPair, type RedisPairOptions } from './redis-pair.js';
export { runRedisScript, type ScriptHost } from './redis-script.js';
