/** `name{label="value", ...}` in a query. */
export interface Selector {
  metric: string;
  matchers: readonly { label: string; op: string; value: string }[];
}

/** What a PromQL expression refers to: series selectors and the labels of by/without/on/ignoring. */
export interface QueryNames {
  selectors: readonly Selector[];
  groupingLabels: readonly string[];
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', ...GROUPING]);

const TOKEN = /\s*(?:(?<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|(?<number>\d[\w.]*|\.\d\w*)|(?<variable>\$\{?\w+\}?)|(?<name>[A-Za-z_:][\w:]*)|(?<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=,(){}[\]@]))/y;

interface Token {
  kind: 'string' | 'number' | 'variable' | 'name' | 'op';
  text: string;
}

/**
 * The metric names and labels a PromQL expression uses. A small tokenizer, not a full parser:
 * enough to find every series selector (a name not followed by `(`, not a keyword, not a label
 * inside `{...}` or a grouping clause) in the rules and dashboards of this repository. Grafana
 * variables (`$__rate_interval`) and range durations are skipped. Throws on a character it
 * cannot read, so that an expression it does not understand fails the check instead of passing.
 */
export function promqlNames(expr: string): QueryNames {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index]!;
    const next = tokens[index + 1];
    if (token.kind === 'op' && token.text === '[') {
      while (index < tokens.length && tokens[index]!.text !== ']') index += 1;
    } else if (token.kind === 'op' && token.text === '{') {
      throw new Error(`a selector without a metric name in ${JSON.stringify(expr)}`);
    } else if (token.kind === 'name' && GROUPING.has(token.text)) {
      if (next?.text !== '(') continue;
      for (index += 2; index < tokens.length && tokens[index]!.text !== ')'; index += 1) {
        if (tokens[index]!.kind === 'name') groupingLabels.push(tokens[index]!.text);
      }
    } else if (token.kind === 'name' && !KEYWORDS.has(token.text) && next?.text !== '(' && !(AGGREGATIONS.has(token.text) && next !== undefined && GROUPING.has(next.text))) {
      const matchers: Selector['matchers'][number][] = [];
      if (next?.text === '{') {
        for (index += 2; index < tokens.length && tokens[index]!.text !== '}'; index += 1) {
          const [label, op, value] = [tokens[index], tokens[index + 1], tokens[index + 2]];
          if (label?.text === ',') continue;
          if (label?.kind !== 'name' || op?.kind !== 'op' || value?.kind !== 'string') throw new Error(`cannot read the matchers of ${token.text} in ${JSON.stringify(expr)}`);
          matchers.push({ label: label.text, op: op.text, value: value.text.slice(1, -1) });
          index += 2;
        }
      }
      selectors.push({ metric: token.text, matchers });
    }
  }
  return { selectors, groupingLabels };
}

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.length) {
    if (/^\s*$/.test(expr.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(expr);
    if (!match?.groups) throw new Error(`cannot read ${JSON.stringify(expr.slice(at, at + 20))} in ${JSON.stringify(expr)}`);
    const [kind, text] = Object.entries(match.groups).find(([, value]) => value !== undefined)!;
    tokens.push({ kind: kind as Token['kind'], text });
  }
  return tokens;
}
