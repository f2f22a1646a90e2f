import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * Runs `statement` (a `COPY ... FROM STDIN`) on `client`, sending `chunks` as its data, and
 * resolves with the number of rows PostgreSQL took. Rejects with PostgreSQL's error (its
 * SQLSTATE in `code`) when it refuses the data; the connection is then ready for the next
 * statement, in an aborted transaction unless a savepoint is rolled back to.
 *
 * pg-copy-streams, not our own COPY protocol code: it is node-postgres's companion for COPY, a
 * `Submittable` the client queues like any query, and it handles the protocol's awkward turns
 * (data written before the server is ready, CopyFail when our side gives up). Its streams are
 * driven by hand here, not through `stream.pipeline`: once the server has refused the data the
 * stream has let go of the connection, and the destroy that `pipeline` then calls would send a
 * CopyFail on a connection it no longer has. So: one chunk at a time, waiting for the socket to
 * take it (backpressure), stop at the server's error, destroy only for a failure of our own.
 *
 * The event loop turns between two chunks, so a long run never holds other requests (or
 * /healthz) for more than one chunk's encoding.
 */
export async function copyIn(client: pg.ClientBase, statement: string, chunks: Iterable<Buffer>): Promise<number> {
  const stream = client.query(copyFrom(statement));
  let refusal: Error | undefined;
  // A persistent listener: the server's refusal, or the error a destroy ends with, must never
  // be an unhandled 'error' event.
  const refused = new Promise<void>((resolve) => {
    stream.on('error', (error: Error) => {
      refusal ??= error;
      resolve();
    });
  });
  try {
    for (const chunk of chunks) {
      if (refusal !== undefined) break;
      if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), refused]);
      await nextTurn();
    }
  } catch (error) {
    // Our side failed (the chunks' source threw): abort the COPY with a CopyFail and wait until
    // the server has answered it, so the connection is ready for the ROLLBACK that follows.
    if (refusal === undefined) {
      stream.destroy(error as Error);
      await Promise.race([once(stream, 'close'), refused]);
    }
    throw error;
  }
  if (refusal === undefined) {
    stream.end();
    await Promise.race([once(stream, 'finish'), refused]);
  }
  if (refusal !== undefined) throw refusal;
  return stream.rowCount;
}
