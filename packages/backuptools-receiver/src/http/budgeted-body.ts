import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ReceiverError } from '../errors.js';
import type { ReceiveBudget } from './receive-budget.js';
import { receiverBusy, receiveReservation } from './webhook-gate.js';

type Done = (error: Error | null, body?: Buffer) => void;

/**
 * The webhook body parser: reads the body into one Buffer (the bytes the signature covers, never
 * decoded) and holds each chunk in the receive budget as it arrives. A chunk that does not fit
 * ends the request with 503 RECEIVER_BUSY (its connection closes, the rest is never read); a
 * body over body-limit (only a chunked one can get here: a declared length over it was refused
 * from its headers) ends it with 413.
 */
export function budgetedBody(budget: ReceiveBudget, bodyLimitBytes: number): (request: FastifyRequest, payload: IncomingMessage, done: Done) => void {
  return (request, payload, done) => {
    const reservation = receiveReservation(request);
    // A route may read less (POST /verify): its own bodyLimit, if lower.
    const limitBytes = Math.min(bodyLimitBytes, request.routeOptions.bodyLimit ?? bodyLimitBytes);
    const declared = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
    const chunks: Buffer[] = [];
    let received = 0;

    const finish = (error: Error | null, body?: Buffer): void => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      if (error !== null) payload.pause();
      done(error, body);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limitBytes) return finish(new ReceiverError('BODY_TOO_LARGE', `the body is over ${limitBytes === bodyLimitBytes ? 'body-limit' : 'the route\'s limit'} (${limitBytes} bytes)`));
      if (reservation !== undefined && !reservation.grow(chunk.length)) return finish(receiverBusy(budget, reservation.peer));
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (declared !== undefined && received !== declared) return finish(new ReceiverError('MALFORMED_REQUEST', `the body has ${received} bytes; Content-Length says ${declared}`));
      finish(null, Buffer.concat(chunks, received));
    };
    const onError = (error: Error): void => finish(new ReceiverError('MALFORMED_REQUEST', `the body could not be read: ${error.message}`, { cause: error }));

    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  };
}
