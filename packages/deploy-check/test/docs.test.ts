import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDocs } from '../src/docs/check-docs.js';
import { docCommands } from '../src/docs/doc-references.js';
import { REPO_ROOT } from '../src/repo.js';

// The runbook and docker/README.md tell operators what to type: every command and option they
// name must exist.
const documents = ['docs/operations.md', 'docker/README.md'].map((path) => ({ path: join(REPO_ROOT, path), text: readFileSync(join(REPO_ROOT, path), 'utf8') }));

describe('commands and options in the operator documents', () => {
  it('exist', async () => {
    expect(documents.flatMap((document) => docCommands(document.text)).length).toBeGreaterThanOrEqual(25);
    expect(await checkDocs(documents)).toEqual([]);
  });

  it('a misspelt flag, an unknown command and an unknown option fail', async () => {
    const broken = {
      path: join(REPO_ROOT, 'docs/broken.md'),
      text: [
        '```sh',
        'storx-replicator status --max-lag 1GiB',
        '```',
        'Run `docker compose run --rm receiver check` and set `replication.retry-delays`.',
      ].join('\n'),
    };
    expect(await checkDocs([broken])).toEqual([
      expect.stringContaining('docs/broken.md:2: "storx-replicator status --max-lag 1GiB" is refused'),
      expect.stringContaining('docs/broken.md:4: "backuptools-receiver check" is refused: unknown command'),
      'docs/broken.md:4: `replication.retry-delays` is not an option of either service',
    ]);
  });
});
