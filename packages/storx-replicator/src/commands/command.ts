/** What a command needs from the outside world; tests pass their own. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface Command {
  name: string;
  summary: string;
  /** Returns the process exit code. */
  run(argv: readonly string[], context: CommandContext): Promise<number>;
}
