import type { Socket } from 'node:net';

/** How long a connection whose request body was left unread stays open after its answer. */
export const LINGER_MS = 1_000;

/**
 * Closes a connection whose request body was refused unread (503 mid-body, 413, 401 before the
 * body) without resetting it under its own answer. Node closes such a connection as soon as the
 * answer is written; with the peer's unread bytes still in the socket, the close sends a TCP
 * reset, and a peer still uploading gets it on its pending write and tears its connection down,
 * often before it read the answer: the sender then sees "connection reset" instead of 503 and
 * its Retry-After (a flaky hostile-http test showed it: a quarter of the answers lost). So the
 * answer goes out with a FIN, and the socket is closed LINGER_MS later without reading anything
 * more: no body bytes, no pipelined request reaches the parser, memory stays within the kernel's
 * buffers. (Web servers' lingering close reads and discards instead; reading nothing makes an
 * unauthenticated peer's bytes cost nothing at all.)
 */
export function lingerBeforeClose(socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket): void {
    this.pause();
    // Node dumps an unread request body once its answer is written, which resumes the socket on
    // the next tick: it is paused again at once, before a byte is read.
    this.on('resume', () => this.pause());
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}
