import { execFile } from 'node:child_process';
import { isAbsolute, join, relative } from 'node:path';
import { assertOpen, trackChild } from './child-registry.js';

const PACKAGES = join(import.meta.dirname, '..', '..');

/** The real command lines an operator runs (built by scripts/demo before the demo starts). */
export const BINARIES = {
  replicator: join(PACKAGES, 'storx-replicator', 'bin', 'storx-replicator.js'),
  receiver: join(PACKAGES, 'backuptools-receiver', 'bin', 'backuptools-receiver.js'),
} as const;

/**
 * The environment the services get: ours without any STORX_* or BACKUPTOOLS_* variable, which
 * would override the generated config files (flags > environment > file).
 */
export function serviceEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(STORX|BACKUPTOOLS)_/.test(name)));
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one of the command lines to completion (keys generate, setup, status). */
export function runCommand(binary: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    assertOpen(displayCommand(binary, args));
    const child = execFile(process.execPath, [binary, ...args], { env: serviceEnvironment(), maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        // Killed by a signal, or node itself could not be run.
        reject(new Error(`${displayCommand(binary, args)} failed: ${error.message}`, { cause: error }));
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
    // "keys generate" recreates its --out directory: it must not outlive the work directory.
    trackChild(child);
  });
}

/** Like `runCommand`, but a non-zero exit is an error carrying the command's output. */
export async function runCommandOk(binary: string, args: readonly string[]): Promise<CommandResult> {
  const result = await runCommand(binary, args);
  if (result.code !== 0) {
    throw new Error(`${displayCommand(binary, args)} exited with ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result;
}

/** How to type a command from the current directory: `node <path> args...`. */
export function displayCommand(binary: string, args: readonly string[] = []): string {
  return ['node', displayPath(binary), ...args.map(shellQuote)].join(' ');
}

/** A path relative to the current directory when it is inside it, else absolute. */
export function displayPath(path: string): string {
  const fromHere = relative(process.cwd(), path);
  return fromHere !== '' && !fromHere.startsWith('..') && !isAbsolute(fromHere) ? fromHere : path;
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
