import { describe, expect, it } from 'vitest';
import { parseBatchJson } from '../src/batch-json.js';

/** What JSON.parse makes of the text: the value as JSON (member order, own `__proto__` and all), or that it refused. */
function outcome(parse: () => unknown): string {
  try {
    return `value ${JSON.stringify(parse())}`;
  } catch (error) {
    return error instanceof SyntaxError ? 'SyntaxError' : `other error ${String(error)}`;
  }
}

async function sliced(text: string | Buffer, sliceBytes = 8): Promise<string> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  try {
    return `value ${JSON.stringify(await parseBatchJson(bytes, sliceBytes))}`;
  } catch (error) {
    return error instanceof SyntaxError ? 'SyntaxError' : `other error ${String(error)}`;
  }
}

async function expectSameAsJsonParse(text: string | Buffer, sliceBytes = 8): Promise<void> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  expect(await sliced(bytes, sliceBytes), bytes.toString('utf8')).toBe(outcome(() => JSON.parse(bytes.toString('utf8'))));
}

const tricky = ['a"],{"', '\\', '\\\\"', '[{,}]', 'é🙂', '\u005d', 'x'.repeat(300) + '\\"' + '\\'.repeat(7) + '"', '\\'.repeat(255) + '"', '"'.repeat(260)];
const batchText = JSON.stringify({
  version: 2,
  source_id: 's',
  relations: [{ table: 'events', columns: ['"events"'] }],
  events: tricky.map((value, seq) => ({ seq, data: { value, nested: [[value], { events: [value] }] } })),
  after: 'events',
});

describe('parseBatchJson: JSON.parse, a slice at a time', () => {
  it('gives exactly what JSON.parse gives for a batch of strings that look like structure, at every slice size', async () => {
    for (const sliceBytes of [1, 2, 3, 8, 64, 1024, 512 * 1024]) await expectSameAsJsonParse(batchText, sliceBytes);
    await expectSameAsJsonParse(JSON.stringify(JSON.parse(batchText), null, 2));
  });

  it.each([
    ['no events', '{"version":2,"events":[]}'],
    ['spaces in an empty array', '{"events":[ \n\t ],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['events not an array', '{"events":"[1,2]","x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['events an object', '{"events":{"a":[1,2]},"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['events a number', '{"events":12,"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['events twice, the array first', '{"events":[1,2,3],"x":"yyyyyyyyyyyyyyyyyyyyyy","events":"last"}'],
    ['events twice, the array last', '{"events":"first","x":"yyyyyyyyyyyyyyyyyyyyyyyy","events":[1,2,3]}'],
    ['events spelled with an escape, after the array', '{"events":[1,2,3],"x":"yyyyyyyyyyyyyyyyyyy","ev\\u0065nts":[4]}'],
    ['__proto__ members', '{"__proto__":{"a":1},"events":[{"__proto__":[1]},{"constructor":2}],"x":"yyyyyyyyyyyyyyy"}'],
    ['a top-level array', '[{"events":[1,2,3]},"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"]'],
    ['a top-level string', '"{\\"events\\":[1,2,3],\\"x\\":\\"yyyyyyyyyyyyyyyyyyyyyyyyyyyy\\"}"'],
    ['a trailing comma', '{"events":[1,2,3,],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['a leading comma', '{"events":[,1,2,3],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['two commas', '{"events":[1,2,,3],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['a lone comma', '{"events":[,],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['no comma', '{"events":[1 2,3],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['a bracket too many', '{"events":[1,2]],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['unclosed', '{"events":[1,2,3,"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['an unterminated string', '{"events":[1,2,3],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy}'],
    ['something after the object', '{"events":[1,2,3],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"} x'],
    ['whitespace around', ' \n{"events" : [ 1 , 2 , 3 ] , "x" : "yyyyyyyyyyyyyyyyyyyyyyyyyyyyy" }\n '],
    ['a byte-order mark', '\uFEFF{"events":[1,2,3],"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}'],
    ['nothing', ''],
  ])('agrees with JSON.parse: %s', async (_name, text) => {
    await expectSameAsJsonParse(text);
  });

  it('decodes invalid UTF-8 as JSON.parse of the decoded whole does (U+FFFD), whatever the cuts', async () => {
    const text = Buffer.concat([Buffer.from('{"events":["a'), Buffer.from([0xe2, 0x82]), Buffer.from('",'), Buffer.from([0xff]), Buffer.from('"b"],"x":"'), Buffer.from([0xc3]), Buffer.from('yyyyyyyyyyyyyyyyyyyyyyyy"}')]);
    await expectSameAsJsonParse(text);
  });

  it('agrees with JSON.parse on 500 mutations of a batch (a structural byte inserted, deleted or changed)', async () => {
    const structure = ['"', '\\', ',', ':', '[', ']', '{', '}', ' ', 'e', '1'];
    let state = 12345;
    const random = (below: number): number => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % below;
    };
    for (let round = 0; round < 500; round += 1) {
      let text = batchText;
      for (let edits = 1 + random(3); edits > 0; edits -= 1) {
        const at = random(text.length);
        const kind = random(3);
        const byte = structure[random(structure.length)]!;
        text = kind === 0 ? text.slice(0, at) + byte + text.slice(at) : kind === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + byte + text.slice(at + 1);
      }
      await expectSameAsJsonParse(text, 16 + random(48));
    }
  });
});
