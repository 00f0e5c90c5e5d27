/**
 * Where a request came from, as the HTTP layer sees it: the TCP peer, or the
 * client of the tenant's `trusted_proxies` (proxy-addr walks X-Forwarded-For
 * from the right), and the tenant's forwarded-for header as received.
 * protection/end-user-ip.ts decides which of them is the end user's.
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import { canonicalIp } from '../domain/ip.js';
import type { Tenant } from '../domain/tenant.js';
import type { RequestOrigin } from '../protection/end-user-ip.js';

/** Parsed only when a grant asks (password checks): refresh and client_credentials never pay for it. */
export function requestOrigin(raw: IncomingMessage, tenant: Tenant): RequestOrigin {
  return {
    networkIp() {
      const trusted = tenant.protection.trustedProxies;
      const address = trusted.empty
        ? (raw.socket.remoteAddress ?? '0.0.0.0')
        : proxyaddr(raw, (candidate) => {
            const canonical = canonicalIp(candidate);
            return canonical !== undefined && trusted.has(canonical);
          });
      return canonicalIp(address) ?? '0.0.0.0';
    },
    forwardedFor: raw.headers[tenant.protection.attack.forwarded_for_header],
  };
}
