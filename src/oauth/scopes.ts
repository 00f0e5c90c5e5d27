/**
 * Scope and audience rules (DESIGN.md §4, the Auth0 seeds), pure functions.
 */
import type { ApiConfig } from '../config/schema.js';
import { InvalidRequestError, InvalidScopeError, InvalidTargetError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenant.js';
import type { ApplicationRecord } from '../storage/stores.js';
import type { RequestParameters } from './request-parameters.js';

/** OIDC standard claim scopes, granted all at once when only `openid` is asked (Auth0 seed). */
export const STANDARD_CLAIM_SCOPES = ['profile', 'email', 'address', 'phone'] as const;
export const OIDC_SCOPES = new Set<string>(['openid', ...STANDARD_CLAIM_SCOPES, 'offline_access']);

/** RFC 6749 §3.3: space-delimited, case-sensitive; repeated tokens collapse. */
export function parseScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  return [...new Set(scope.split(' ').filter((s) => s !== ''))];
}

export interface ResourceSelection {
  /** The API the token is for, or undefined for a userinfo-only token. */
  api: ApiConfig | undefined;
  /** Requested scopes with any Entra-style `{identifier}/` prefix removed. */
  scopes: string[];
  /** True when the request named the whole API (`{identifier}/.default`). */
  wholeApi: boolean;
}

/**
 * Chooses the API from `audience` (Auth0), Entra-style scopes
 * (`{identifier}/{scope}`, `{identifier}/.default`) or the defaults, in
 * that order, and strips the prefixes from the scopes.
 */
export function selectResource(args: {
  audience: string | undefined;
  requestedScopes: string[];
  apis: ReadonlyMap<string, ApiConfig>;
  defaultAudiences: Array<string | undefined>;
}): ResourceSelection {
  const { apis } = args;
  let named: ApiConfig | undefined;
  if (args.audience !== undefined) {
    named = apis.get(args.audience);
    if (!named)
      throw new InvalidTargetError('The audience is not an API of this tenant.', {
        logDetail: `unknown audience ${JSON.stringify(truncate(args.audience))}`,
      });
  }
  const scopes: string[] = [];
  let wholeApi = false;
  for (const scope of args.requestedScopes) {
    const prefixed = splitPrefixedScope(scope, apis);
    if (!prefixed) {
      scopes.push(scope);
      continue;
    }
    if (named && named.identifier !== prefixed.api.identifier) {
      throw new InvalidTargetError('The request names more than one API; a token is for exactly one audience.');
    }
    named = prefixed.api;
    if (prefixed.scope === '.default') wholeApi = true;
    else scopes.push(prefixed.scope);
  }
  if (!named) {
    for (const fallback of args.defaultAudiences) {
      if (fallback !== undefined && apis.has(fallback)) {
        named = apis.get(fallback);
        break;
      }
    }
  }
  return { api: named, scopes: [...new Set(scopes)], wholeApi };
}

/** A token request's API: as the request names it, else the application's default_audience, else the tenant's. */
export function selectRequestedResource(
  tenant: Tenant,
  app: ApplicationRecord,
  request: { audience: string | undefined; scopes: string[] | undefined },
): ResourceSelection {
  return selectResource({
    audience: request.audience,
    requestedScopes: request.scopes ?? [],
    apis: tenant.apis,
    defaultAudiences: [app.settings.default_audience, tenant.settings.default_audience],
  });
}

/** How Entra-style scopes name an API: `{identifier}/{scope}`. */
export function apiScopePrefix(identifier: string): string {
  return identifier.endsWith('/') ? identifier : `${identifier}/`;
}

/** `https://api.example/read:x` → that API and `read:x`; the longest matching identifier wins. */
function splitPrefixedScope(scope: string, apis: ReadonlyMap<string, ApiConfig>): { api: ApiConfig; scope: string } | undefined {
  let best: ApiConfig | undefined;
  for (const api of apis.values()) {
    const prefix = apiScopePrefix(api.identifier);
    if (scope.startsWith(prefix) && scope.length > prefix.length && (!best || api.identifier.length > best.identifier.length)) best = api;
  }
  return best && { api: best, scope: scope.slice(apiScopePrefix(best.identifier).length) };
}

/**
 * The API a request names: Auth0's `audience`, or RFC 8707's `resource`
 * (openid-client and others send it). Both at once must agree.
 */
export function requestedAudience(params: RequestParameters): string | undefined {
  const audience = params.get('audience');
  const resource = params.get('resource');
  if (audience !== undefined && resource !== undefined && audience !== resource) {
    throw new InvalidTargetError('audience and resource name different APIs; a token is for exactly one audience.');
  }
  return audience ?? resource;
}

/** The optional `scope` parameter, its syntax checked (RFC 6749 §3.3); undefined when the request sends none. */
export function optionalScopes(params: RequestParameters): string[] | undefined {
  const scope = params.get('scope');
  if (scope === undefined) return undefined;
  assertScopeSyntax(scope);
  return parseScope(scope);
}

export interface UserScopeArgs {
  selection: ResourceSelection;
  /** offline_access survives only if the API allows it and the client may refresh. */
  offlineAllowed: boolean;
}

/**
 * Password grant (Auth0 seed): a password is full access, so a request that
 * names no API scope gets all of the API's scopes, and `openid` alone gets
 * every standard claim scope. Scopes nobody defines are dropped.
 */
export function grantUserScopes({ selection, offlineAllowed }: UserScopeArgs): string[] {
  const { api, scopes } = selection;
  const apiScopes = new Set(api?.scopes ?? []);
  const askedApiScopes = scopes.filter((s) => apiScopes.has(s));
  const granted: string[] = scopes.filter((s) => OIDC_SCOPES.has(s) && (s !== 'offline_access' || offlineAllowed));
  if (granted.includes('openid') && !STANDARD_CLAIM_SCOPES.some((s) => granted.includes(s))) granted.push(...STANDARD_CLAIM_SCOPES);
  granted.push(...(askedApiScopes.length > 0 && !selection.wholeApi ? askedApiScopes : [...apiScopes]));
  return [...new Set(granted)];
}

/**
 * client_credentials: only API scopes the client grant gives (DESIGN.md §9);
 * none asked (or none of those) means every scope granted. A scope the API
 * no longer defines is never granted, whatever a stored grant says.
 */
export function grantClientScopes(selection: ResourceSelection, granted: readonly string[]): string[] {
  const apiScopes = selection.api?.scopes ?? [];
  const allowed = apiScopes.filter((s) => granted.includes(s));
  const asked = selection.scopes.filter((s) => allowed.includes(s));
  return asked.length > 0 && !selection.wholeApi ? asked : allowed;
}

/**
 * Refresh with Entra-style scopes, as MSAL sends them on every path
 * (DESIGN.md §3): `{identifier}/{scope}` of the token's own API is that
 * scope, and `{identifier}/.default` is every API scope the original grant
 * holds. A prefix naming another API is left as it is, so narrowing refuses it.
 */
export function unprefixRefreshScopes(requested: string[], api: ApiConfig | undefined, original: string[]): string[] {
  if (!api) return requested;
  const prefix = apiScopePrefix(api.identifier);
  const scopes = requested.flatMap((s) => {
    if (!s.startsWith(prefix) || s.length === prefix.length) return [s];
    const bare = s.slice(prefix.length);
    return bare === '.default' ? original.filter((o) => !OIDC_SCOPES.has(o)) : [bare];
  });
  return [...new Set(scopes)];
}

/** Refresh: a request may narrow the original scope, never widen it (RFC 6749 §6). */
export function narrowScopes(original: string[], requested: string[] | undefined): string[] {
  if (requested === undefined || requested.length === 0) return original;
  const widened = requested.filter((s) => !original.includes(s));
  if (widened.length > 0) {
    throw new InvalidScopeError('The refresh request asks for scopes the original grant did not include.', {
      logDetail: `widening scopes ${JSON.stringify(truncate(widened.join(' ')))}`,
    });
  }
  return requested;
}

export function assertScopeSyntax(scope: string): void {
  if (!/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/.test(scope)) {
    throw new InvalidRequestError('scope contains characters RFC 6749 §3.3 does not allow.');
  }
}

function truncate(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value;
}
