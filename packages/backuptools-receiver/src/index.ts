// Public entry of @storx-backup/backuptools-receiver (for tests and embedding).
export { buildApp, UNAUTHORIZED_BODY, type AppOptions } from './app.js';
export { loadReceiverConfig, RECEIVER_OPTIONS, type ReceiverConfig } from './config.js';
export { RECEIVER_ERRORS, ReceiverError, type ReceiverErrorCode } from './errors.js';
export { startReceiver, type RunningReceiver } from './server.js';
export { main } from './cli.js';
