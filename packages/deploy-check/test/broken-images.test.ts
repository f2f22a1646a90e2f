import { describe, expect, it } from 'vitest';
import { CHECKS } from '../src/checks.js';
import { withDockerfile, withDockerignore } from './support.js';

describe('a broken Dockerfile or .dockerignore fails the dockerfiles check', () => {
  it('a full runtime image running as root, starting a script that is not the bin', () => {
    const broken = withDockerfile(
      'storx-replicator',
      ['FROM node:20-bookworm-slim AS runtime', 'FROM node:20-bookworm AS runtime'],
      ['USER node', 'USER root'],
      ['ENTRYPOINT ["node", "/app/bin/storx-replicator.js"]', 'ENTRYPOINT ["node", "/app/bin/replicator.js"]'],
    );
    expect(CHECKS.dockerfiles(broken)).toEqual([
      'docker/storx-replicator.Dockerfile: the runtime stage starts from node:20-bookworm, not a slim or alpine Node image',
      'docker/storx-replicator.Dockerfile: the runtime stage runs as root',
      'docker/storx-replicator.Dockerfile: ENTRYPOINT runs /app/bin/replicator.js, but packages/storx-replicator/bin/replicator.js does not exist',
      'docker/storx-replicator.Dockerfile: ENTRYPOINT runs ./bin/replicator.js, which is not a bin of @storx-backup/storx-replicator (./bin/storx-replicator.js)',
    ]);
  });

  it('a deploy without --prod, a health check on a port the image does not expose', () => {
    const broken = withDockerfile('backuptools-receiver', ['scripts/install --no-link backuptools-receiver /out', 'pnpm --filter @storx-backup/backuptools-receiver deploy --legacy /out'], ['EXPOSE 8005', 'EXPOSE 8080']);
    expect(CHECKS.dockerfiles(broken)).toEqual([
      expect.stringContaining('pnpm deploy without --prod'),
      'docker/backuptools-receiver.Dockerfile: the HEALTHCHECK probes port 8005, but the image EXPOSEs 8080',
    ]);
  });

  it("the production install script: the other service's program, the script not copied into the build stage", () => {
    const other = withDockerfile('storx-replicator', ['scripts/install --no-link storx-replicator /out', 'scripts/install --no-link backuptools-receiver /out']);
    expect(CHECKS.dockerfiles(other)).toEqual([
      'docker/storx-replicator.Dockerfile: deploys @storx-backup/backuptools-receiver, not packages/storx-replicator',
      'docker/storx-replicator.Dockerfile: ENTRYPOINT runs ./bin/storx-replicator.js, which is not a bin of @storx-backup/backuptools-receiver (./bin/backuptools-receiver.js)',
    ]);
    const uncopied = withDockerfile('backuptools-receiver', ['COPY scripts/lib/pnpm.sh scripts/lib/pnpm.sh\n', '']);
    expect(CHECKS.dockerfiles(uncopied)).toEqual(['docker/backuptools-receiver.Dockerfile: RUN scripts/install, but the build stage does not COPY scripts/lib/pnpm.sh before it']);
  });

  it('a COPY of a file that .dockerignore leaves out', () => {
    const broken = withDockerignore(['\ndocs\n', '\ndocs\ndocker\n']);
    const problems = CHECKS.dockerfiles(broken);
    expect(problems).toHaveLength(2);
    expect(problems).toContainEqual(expect.stringMatching(/storx-replicator.Dockerfile:\d+: COPY docker\/healthcheck.mjs: left out of the build context by .dockerignore/));
  });
});
