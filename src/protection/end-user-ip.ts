/**
 * Which IP address is the end user's (Auth0's auth0-forwarded-for model):
 *
 * - the TCP peer, by default;
 * - `X-Forwarded-For`, walked from the right only through peers listed in
 *   the tenant's `trusted_proxies` (proxy-addr does the walking);
 * - the tenant's forwarded-for header (`auth0-forwarded-for`), only from a
 *   confidential client that authenticated and whose config sets
 *   `trust_forwarded_for: true`. Anyone else's header is ignored and logged:
 *   trusting it would let an attacker pick a fresh IP for every guess.
 */
import type { Tenant } from '../domain/tenant.js';
import { InvalidRequestError } from '../domain/errors.js';
import { canonicalIp } from '../domain/ip.js';
import type { AuthenticatedClient } from '../domain/client.js';

/** What the HTTP layer knows about where a request came from (http/request-origin.ts builds it). */
export interface RequestOrigin {
  /** The peer, or the client of the trusted proxies in front: canonical text. */
  networkIp(): string;
  /** The tenant's forwarded-for header as received, if any. */
  forwardedFor: string | string[] | undefined;
}

export type IgnoredForwardReason = 'client_not_trusted' | 'public_client';

export interface EndUserIp {
  ip: string;
  /** Set when the request carried a forwarded IP this client may not assert. */
  ignoredForward?: IgnoredForwardReason;
}

export function endUserIp(origin: RequestOrigin, tenant: Tenant, client: AuthenticatedClient): EndUserIp {
  if (origin.forwardedFor === undefined) return { ip: origin.networkIp() };
  const header = tenant.protection.attack.forwarded_for_header;
  if (client.method === 'none') return { ip: origin.networkIp(), ignoredForward: 'public_client' };
  if (!client.app.settings.trust_forwarded_for) return { ip: origin.networkIp(), ignoredForward: 'client_not_trusted' };
  // Node joins a repeated header with ", ", which is no address either.
  const ip = canonicalIp(Array.isArray(origin.forwardedFor) ? origin.forwardedFor.join(', ') : origin.forwardedFor);
  if (ip === undefined)
    throw new InvalidRequestError(`The ${header} header must hold the end user's IP address (one IPv4 or IPv6 address).`);
  return { ip };
}
