/**
 * The request id: the `X-Request-Id` a reverse proxy or the client sent, so
 * one id follows a request through the proxy's log and ours, or a new UUID.
 * The header is copied into every log line and echoed in the response, so
 * only a short token is taken as it is: anything longer, empty, or with other
 * characters (spaces, quotes, newlines a log reader might trip on) is replaced.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
/** ≤ 128 characters of [A-Za-z0-9._-]: UUIDs, nginx's $request_id (32 hex), AWS trace ids without `=`/`;`, ULIDs. */
const ACCEPTED = /^[A-Za-z0-9._-]{1,128}$/;

export function requestIdOf(raw: Pick<IncomingMessage, 'headers'>): string {
  const sent = raw.headers[REQUEST_ID_HEADER];
  return typeof sent === 'string' && ACCEPTED.test(sent) ? sent : randomUUID();
}
