import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComposeService } from '../compose/compose-file.js';
import type { Deployment } from '../deployment.js';
import { REPO_ROOT, repoPath } from '../repo.js';
import { locate } from '../services/container-paths.js';

const START_SCRIPT = join(REPO_ROOT, 'scripts', 'redis-start.sh');
const TEMPLATES = join(REPO_ROOT, 'redis');
const TEMPLATE_OF_ROLE: Readonly<Record<string, string>> = { master: 'redis.conf', replica: 'redis-replica.conf' };

/**
 * Every Redis service started by scripts/redis-start.sh: the script and the templates it runs
 * are the repository's, mounted where the command and REDIS_TEMPLATE_DIR say; its role is master
 * or replica; REDIS_TLS_DIR is on a mount; and the real scripts/redis-render-config.sh fills the
 * role's template with the service's environment (interpolated from .env.example), so a variable
 * the template needs and the compose file does not give is found here, not on the host.
 */
export function checkRedis(deployment: Deployment): string[] {
  const problems: string[] = [];
  for (const file of deployment.composeFiles) {
    for (const service of file.services) {
      const words = [...(service.entrypoint ?? []), ...(service.command ?? [])];
      const at = words.findIndex((word) => word.endsWith('/redis-start.sh'));
      if (at < 0) continue;
      const where = `${repoPath(file.path)}: service ${service.name}`;
      problems.push(...checkRedisService(service, words[at]!, words[at + 1], where));
    }
  }
  return problems;
}

function checkRedisService(service: ComposeService, script: string, role: string | undefined, where: string): string[] {
  const problems: string[] = [];
  const mountedScript = locate(service, script)?.hostPath;
  if (mountedScript !== START_SCRIPT) problems.push(`${where}: ${script} is ${mountedScript ? repoPath(mountedScript) : 'on no bind mount'}, not ${repoPath(START_SCRIPT)}`);
  const template = TEMPLATE_OF_ROLE[role ?? ''];
  if (template === undefined) problems.push(`${where}: redis-start.sh role ${JSON.stringify(role ?? '')}, not master or replica`);
  const templateDir = service.environment.get('REDIS_TEMPLATE_DIR');
  const mountedTemplates = templateDir === undefined ? undefined : locate(service, templateDir)?.hostPath;
  if (mountedTemplates?.replace(/\/+$/, '') !== TEMPLATES) problems.push(`${where}: REDIS_TEMPLATE_DIR ${templateDir ?? '(not set)'} is not a mount of ${repoPath(TEMPLATES)}`);
  const tlsDir = service.environment.get('REDIS_TLS_DIR') ?? '/usr/local/etc/redis/tls';
  if (!locate(service, tlsDir)) problems.push(`${where}: REDIS_TLS_DIR ${tlsDir} is on none of its volumes (ca.crt, redis.crt, redis.key from scripts/redis-make-certs.sh go there)`);
  if (template !== undefined) {
    const out = mkdtempSync(join(tmpdir(), 'deploy-check-redis-'));
    try {
      execFileSync('sh', [join(REPO_ROOT, 'scripts', 'redis-render-config.sh'), join(TEMPLATES, template), join(out, template)], {
        env: { PATH: process.env['PATH'], ...Object.fromEntries(service.environment) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
      problems.push(`${where}: redis/${template} does not render with its environment: ${stderr}`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  return problems;
}
