import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** A Redis reply: simple string, integer, bulk string (null: none), array, or an error reply. */
export type RespReply = string | number | null | RespReply[] | RespError;

/** An error reply (`-WRONGPASS …`): Redis answered, and said no. */
export class RespError {
  constructor(readonly message: string) {}
}

/**
 * Sends commands to Redis over TLS and returns their replies: just enough RESP2 for the few
 * read-only commands the topology view sends (AUTH, INFO), without a client library. One
 * connection per call, pipelined; the connection is closed after the last reply.
 */
export async function redisCommands(tls: ConnectionOptions & { host: string; port: number }, commands: readonly (readonly string[])[], timeoutMs: number): Promise<RespReply[]> {
  const socket: TLSSocket = connect(tls);
  try {
    return await new Promise<RespReply[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const done = (error: Error | undefined, replies?: RespReply[]): void => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(replies!);
      };
      let buffer = Buffer.alloc(0);
      const replies: RespReply[] = [];
      socket.once('secureConnect', () => socket.write(commands.map(encodeCommand).join('')));
      socket.on('data', (data: Buffer) => {
        buffer = Buffer.concat([buffer, data]);
        // A reply that is not RESP must fail this call, not throw out of the socket's event
        // handler (an uncaught exception would end a --metrics-listen exporter).
        try {
          for (;;) {
            const parsed = parseReply(buffer, 0);
            if (parsed === undefined) return;
            replies.push(parsed.reply);
            buffer = buffer.subarray(parsed.end);
            if (replies.length === commands.length) return done(undefined, replies);
          }
        } catch (error) {
          done(error instanceof Error ? error : new Error(String(error)));
        }
      });
      socket.once('error', (error: Error) => done(error));
      socket.once('close', () => done(new Error(replies.length === 0 ? 'the server closed the connection (a client certificate it does not accept?)' : 'the server closed the connection')));
    });
  } finally {
    socket.destroy();
  }
}

function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** One reply from `buffer` at `start`, or undefined while it is incomplete. */
export function parseReply(buffer: Buffer, start: number): { reply: RespReply; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[start]!);
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, end: next };
    case '-':
      return { reply: new RespError(line), end: next };
    case ':':
      return { reply: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { reply: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: RespReply[] = [];
      let at = next;
      for (let index = 0; index < count; index += 1) {
        const item = parseReply(buffer, at);
        if (item === undefined) return undefined;
        items.push(item.reply);
        at = item.end;
      }
      return { reply: items, end: at };
    }
    default:
      throw new Error(`not a Redis reply (starts with ${JSON.stringify(type)}): is this port a Redis TLS port?`);
  }
}
