import { captureRun } from '@storx-backup/service-kit';
import type { Deployment } from '../deployment.js';
import { instructions } from '../dockerfile/dockerfile.js';
import { ourServices } from '../services/our-services.js';

/**
 * Every command line our containers run is one the program accepts: it is run for real with
 * `--help` appended, which parses the command and every flag (unknown ones are refused) and then
 * only prints help. A program called by name from a shell script must be on the image's PATH.
 */
export async function checkCommands(deployment: Deployment): Promise<string[]> {
  const problems: string[] = [];
  for (const { kind, dockerfile, invocations, where } of ourServices(deployment)) {
    if (invocations.length === 0) problems.push(`${where}: runs neither ${kind.program} nor a script that calls it`);
    for (const { argv, viaShell } of invocations) {
      const shown = [kind.program, ...argv].join(' ');
      if (argv.length === 0 || argv[0]!.startsWith('-')) {
        problems.push(`${where}: "${shown}" names no command`);
        continue;
      }
      const run = await captureRun(kind.main, [...argv, '--help']);
      if (run.code !== 0) problems.push(`${where}: "${shown}" is refused by ${kind.program}: ${(run.stderr || run.stdout).split('\n')[0]}`);
      const linked = dockerfile?.stages.at(-1) && instructions(dockerfile.stages.at(-1)!, 'RUN').some((run) => run.args.includes(`/usr/local/bin/${kind.program}`));
      if (viaShell && !linked) problems.push(`${where}: its script calls ${kind.program}, which the image does not put on the PATH (/usr/local/bin)`);
    }
  }
  return problems;
}
