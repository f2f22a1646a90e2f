import { Kysely, PostgresDialect, PostgresQueryCompiler, type PostgresPoolClient } from 'kysely';
import { sqlLiteral } from './sql-literal.js';

/**
 * Most characters of statement text held for the next round trip. Past it the held statements go
 * at once (in one round trip): a batch of many small statements keeps bounded memory, while a
 * batch of a few small ones (one source transaction of a row or ten) pays no round trip for them.
 */
export const HELD_TEXT_LIMIT = 64 * 1024;

/** Kysely's PostgreSQL compiler, with every value written as a literal instead of a `$n` parameter. */
class LiteralQueryCompiler extends PostgresQueryCompiler {
  protected override appendValue(value: unknown): void {
    this.append(sqlLiteral(value));
  }
}

class LiteralDialect extends PostgresDialect {
  override createQueryCompiler(): PostgresQueryCompiler {
    return new LiteralQueryCompiler();
  }
}

/** What a statement whose result nobody reads answers while it is held. */
const HELD_RESULT = { command: 'HELD', rowCount: 0, rows: [] };

/**
 * Writes of a transaction whose results nobody reads, held back and sent in the round trip of the
 * transaction's next statement or of its COMMIT (db.ts), in the order they were made. A stream
 * batch of one small source transaction is otherwise mostly round trips: BEGIN, the rows'
 * statement, COMMIT — now two. Values are literals (sql-literal.ts), since a text of several
 * statements goes through the simple query protocol, which takes no parameters.
 *
 * A held statement that fails makes the round trip that carries it fail, with PostgreSQL's error
 * for that statement; the statements after it in that text do not run, and the transaction
 * (aborted by the error) is rolled back as for any failure.
 */
export class HeldStatements {
  private texts: string[] = [];
  private length = 0;
  private kysely: Kysely<Record<string, never>> | undefined;

  /** `sendNow`: sends a text on the transaction's connection (used when the held text grows past HELD_TEXT_LIMIT). */
  constructor(private readonly sendNow: (text: string) => Promise<unknown>) {}

  /** The executor whose statements are held (made on first use: most transactions of a copy never need it). */
  get executor(): Kysely<Record<string, never>> {
    if (this.kysely === undefined) {
      const client = { query: (text: string, values?: readonly unknown[]) => this.hold(text, values), release: () => {} } as unknown as PostgresPoolClient;
      this.kysely = new Kysely({ dialect: new LiteralDialect({ pool: { connect: () => Promise.resolve(client), end: () => Promise.resolve() } }) });
    }
    return this.kysely;
  }

  /** The held statements as one text, and none held any more; undefined when none is. */
  take(): string | undefined {
    if (this.texts.length === 0) return undefined;
    const text = this.texts.join(';\n');
    this.texts = [];
    this.length = 0;
    return text;
  }

  private async hold(text: string, values: readonly unknown[] | undefined): Promise<typeof HELD_RESULT> {
    if (values !== undefined && values.length > 0) throw new Error('a held statement has parameters: its values must be literals');
    this.texts.push(text);
    this.length += text.length;
    if (this.length > HELD_TEXT_LIMIT) await this.sendNow(this.take()!);
    return HELD_RESULT;
  }
}
