import { describe, expect, it } from 'vitest';
import { captureRun, type Command, lazyCommand, runProgram } from '../src/index.js';

const echo: Command = { name: 'echo', summary: 'print the arguments', run: (argv, context) => (context.stdout(argv.join(' ')), Promise.resolve(0)) };

function programOf(command: Command) {
  return (argv: readonly string[], context: Parameters<typeof runProgram>[2]) => runProgram({ name: 'tool', description: 'a tool', commands: [command] }, argv, context);
}

describe('lazyCommand', () => {
  it('lists the command in --help without loading it, and loads it once it runs', async () => {
    let loads = 0;
    const main = programOf(lazyCommand('echo', 'print the arguments', () => (loads++, Promise.resolve(echo))));
    const help = await captureRun(main, ['--help']);
    expect(help.stdout).toContain('echo  print the arguments');
    expect(loads).toBe(0);
    expect(await captureRun(main, ['echo', 'a', 'b'])).toEqual({ code: 0, stdout: 'a b', stderr: '' });
    expect(loads).toBe(1);
  });

  it('refuses to run a module whose summary differs from the listed one', async () => {
    const main = programOf(lazyCommand('echo', 'an old summary', () => Promise.resolve(echo)));
    const result = await captureRun(main, ['echo', 'a']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('make them agree');
  });
});
