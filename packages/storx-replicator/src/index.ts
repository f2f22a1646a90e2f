// Public entry of @storx-backup/storx-replicator (for tests and embedding).
export { loadReplicatorConfig, REPLICATOR_OPTIONS, type ReplicatorConfig } from './config.js';
export { REPLICATOR_ERRORS, ReplicatorError, type ReplicatorErrorCode } from './errors.js';
export { Replicator } from './replicator.js';
export { main } from './cli.js';
