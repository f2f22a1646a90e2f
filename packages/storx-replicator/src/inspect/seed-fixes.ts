/**
 * The seed document's troubleshooting entries, in its words: operators search for these, so
 * doctor and status print them as written rather than paraphrased.
 */
export const WAL_LEVEL_FIX = ['ALTER SYSTEM SET wal_level = logical;', '-- Restart PostgreSQL'];

export const RELATION_DOES_NOT_EXIST_FIX = ['Check schema path in connection string', 'Verify tables exist in that schema', 'Grant SELECT on tables'];

export const PUBLIC_KEY_FIX = ['Verify public key file exists', 'Check file permissions (should be readable)', 'Ensure PEM format (starts with -----BEGIN PUBLIC KEY-----)'];
