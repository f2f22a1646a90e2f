import { join } from 'node:path';
import type { ComposeService, Mount } from '../compose/compose-file.js';

/** Where a container path lives: on which mount, and for a bind mount, the host path. */
export interface Located {
  mount: Mount;
  /** The path below the mount's target (`''` for the target itself). */
  inside: string;
  /** The host file or directory, for a bind mount. */
  hostPath: string | undefined;
}

/** The mount a container path is on (the deepest one), or undefined when it is only in the image. */
export function locate(service: ComposeService, containerPath: string): Located | undefined {
  let best: Mount | undefined;
  for (const mount of service.volumes) {
    const target = mount.target.replace(/\/+$/, '');
    if ((containerPath === target || containerPath.startsWith(`${target}/`)) && target.length > (best?.target.length ?? -1)) best = mount;
  }
  if (!best) return undefined;
  const inside = containerPath.slice(best.target.replace(/\/+$/, '').length).replace(/^\//, '');
  return { mount: best, inside, hostPath: best.kind === 'bind' ? join(best.source, inside) : undefined };
}
