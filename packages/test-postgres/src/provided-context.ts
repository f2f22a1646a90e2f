// Types `project.provide()` in global-setup.ts and `inject()` in tests. Any test that
// imports from '@storx-backup/test-postgres' gets this augmentation through index.ts.

// An augmentation does not load the module it augments; without this (erased) import
// TypeScript reports "module 'vitest' cannot be found" when nothing else imported it.
import type {} from 'vitest';
declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL (`postgres` database) of the run's source cluster. */
    pgSourceUrl: string;
    /** Superuser URL (`postgres` database) of the run's backup cluster; a different cluster. */
    pgBackupUrl: string;
  }
}

/** The keys global-setup.ts provides. */
export type PgProvidedKey = 'pgSourceUrl' | 'pgBackupUrl';
