/**
 * The request a piece of work belongs to, for log lines written far from the
 * HTTP layer. Security events are recorded by some 25 call sites in oauth/,
 * identity/, mfa/ and protection/, none of which sees the request; passing
 * the request's logger down would change every one of their signatures, so
 * the HTTP listener enters the request's context once (AsyncLocalStorage,
 * the mechanism of @fastify/request-context) and the event log reads it here.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestContext {
  /** The `X-Request-Id` a proxy sent, or one generated for the request (http/request-id.ts). */
  readonly requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (and whatever it starts) as part of the request. */
export function runInRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The current request's id; undefined outside a request (the CLI, background jobs). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
