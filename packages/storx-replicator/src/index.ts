// Public entry of @storx-backup/storx-replicator. The service itself lands with its issue; until then the
// package only re-exports the shared protocol it builds on.
export * as protocol from '@storx-backup/protocol';
