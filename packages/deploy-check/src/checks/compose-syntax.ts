import type { Deployment } from '../deployment.js';

/**
 * Every compose file reads: each `${VAR}` has a default or a value in the `.env.example` beside
 * it (the values an operator copies to `.env`), and volumes, ports and durations parse.
 */
export function checkComposeSyntax(deployment: Deployment): string[] {
  return deployment.composeFiles.flatMap((file) => file.problems);
}
