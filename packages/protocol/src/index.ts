// The only public entry of @storx-backup/protocol.
export * from './lsn.js';
export * from './identifiers.js';
export * from './change-event.js';
export * from './relation.js';
export * from './event-identity.js';
export * from './batch.js';
export * from './errors.js';
export * from './payload-codec.js';
export * from './keys.js';
export * from './key-files.js';
export * from './signature.js';
export * from './envelope-v2.js';
export * from './envelope-seed.js';
export * from './webhook-id.js';
export * from './webhook-request.js';
export * from './json-schema.js';
export * from './text-settings.js';
