import { describe, expect, it } from 'vitest';
import { interpolate } from '../src/compose/interpolate.js';
import { shellCommands } from '../src/compose/shell-words.js';
import { DockerIgnore } from '../src/dockerfile/dockerignore.js';
import { parseDockerfile } from '../src/dockerfile/dockerfile.js';
import { promqlNames } from '../src/metrics/promql-names.js';

// The small readers the checks rest on: if one of them misread a file, a check could pass
// without looking at what it claims to check.

describe('promqlNames', () => {
  it('finds selectors, matchers and grouping labels; skips functions, keywords, ranges and Grafana variables', () => {
    const names = promqlNames('histogram_quantile(0.99, sum by (le) (rate(storx_x_bucket{job="a", class!~"b|c"}[$__rate_interval]))) > 1e3 and on() max(y_total offset 5m) unless z');
    expect(names.selectors).toEqual([
      { metric: 'storx_x_bucket', matchers: [{ label: 'job', op: '=', value: 'a' }, { label: 'class', op: '!~', value: 'b|c' }] },
      { metric: 'y_total', matchers: [] },
      { metric: 'z', matchers: [] },
    ]);
    expect(names.groupingLabels).toEqual(['le']);
  });

  it('refuses what it cannot read rather than passing it', () => {
    expect(() => promqlNames('{__name__="x"}')).toThrow(/without a metric name/);
    expect(() => promqlNames('x # y')).toThrow(/cannot read/);
  });
});

describe('interpolate', () => {
  it('substitutes like compose: defaults, required, $$', () => {
    const problems: string[] = [];
    const variables = new Map([['SET', 'v'], ['EMPTY', '']]);
    expect(interpolate('${SET} ${EMPTY:-d} ${EMPTY-d} ${UNSET:--1} $$HOME $SET', variables, problems, 'f')).toBe('v d  -1 $HOME v');
    expect(problems).toEqual([]);
    interpolate('${UNSET:?give it} ${ALSO_UNSET}', variables, problems, 'f');
    expect(problems).toEqual([expect.stringContaining('${UNSET} is required ("give it")'), expect.stringContaining('${ALSO_UNSET} has no default')]);
  });
});

describe('shellCommands', () => {
  it('splits a one-line script into simple commands', () => {
    expect(shellCommands('test -e /keys/a.pem || exec prog keys generate --out "/keys dir"; echo done')).toEqual([
      ['test', '-e', '/keys/a.pem'],
      ['prog', 'keys', 'generate', '--out', '/keys dir'],
      ['echo', 'done'],
    ]);
  });
});

describe('DockerIgnore', () => {
  it('matches globs, directories and re-includes like docker', () => {
    const ignore = new DockerIgnore('**/node_modules\n*.pem\npackages/*/test\ndocs\n!docs/keep.md\n');
    expect(ignore.ignores('packages/a/node_modules/x/index.js')).toBe(true);
    expect(ignore.ignores('key.pem')).toBe(true);
    expect(ignore.ignores('sub/key.pem')).toBe(false);
    expect(ignore.ignores('packages/a/test/x.test.ts')).toBe(true);
    expect(ignore.ignores('packages/a/src/test.ts')).toBe(false);
    expect(ignore.ignores('docs/other.md')).toBe(true);
    expect(ignore.ignores('docs/keep.md')).toBe(false);
  });
});

describe('parseDockerfile', () => {
  it('joins continuations, skips comments, splits stages', () => {
    const stages = parseDockerfile('# syntax=docker/dockerfile:1\nFROM a AS build\nRUN one \\\n  # a comment\n  && two\nFROM --platform=linux/amd64 b\nUSER node\n');
    expect(stages).toEqual([
      { image: 'a', name: 'build', instructions: [{ keyword: 'RUN', args: 'one && two', line: 3 }] },
      { image: 'b', name: undefined, instructions: [{ keyword: 'USER', args: 'node', line: 7 }] },
    ]);
  });
});
