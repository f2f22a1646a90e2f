import type { ComposeService } from '../compose/compose-file.js';
import { shellCommands } from '../compose/shell-words.js';
import { type Dockerfile, execForm, instructions } from '../dockerfile/dockerfile.js';
import type { ServiceKind } from './service-kinds.js';

/** One run of the program in a container: its arguments, and whether a shell script starts it. */
export interface Invocation {
  argv: readonly string[];
  viaShell: boolean;
}

const SHELLS = new Set(['sh', '/bin/sh', 'bash', '/bin/bash']);

/**
 * What a compose service of ours runs: the command after the image's ENTRYPOINT (the program),
 * else the image's CMD; with `entrypoint: [sh, -c]`, every call of the program in the script.
 * Another entrypoint runs something else: no invocation.
 */
export function invocations(service: ComposeService, kind: ServiceKind, dockerfile: Dockerfile | undefined): Invocation[] {
  const entrypoint = service.entrypoint;
  if (entrypoint !== undefined && SHELLS.has(entrypoint[0] ?? '') && entrypoint[1] === '-c') {
    const script = entrypoint[2] ?? service.command?.[0] ?? '';
    return shellCommands(script)
      .filter((words) => words[0] === kind.program)
      .map((words) => ({ argv: words.slice(1), viaShell: true }));
  }
  if (entrypoint !== undefined && !entrypoint.some((word) => word.endsWith(`/bin/${kind.program}.js`))) return [];
  return [{ argv: service.command ?? imageCmd(dockerfile) ?? [], viaShell: false }];
}

/** The exec-form CMD of the image's last stage. */
export function imageCmd(dockerfile: Dockerfile | undefined): string[] | undefined {
  const stage = dockerfile?.stages.at(-1);
  const cmd = stage && instructions(stage, 'CMD').at(-1);
  return cmd && execForm(cmd.args);
}
