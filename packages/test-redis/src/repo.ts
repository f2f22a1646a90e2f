import { fileURLToPath } from 'node:url';

/** The repository root: the redis/ templates and scripts/redis-*.sh are run from there. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
