/**
 * The grant a browser session gives an application (the authorization code
 * flow, a device confirmed on the verification page): the API and scopes by
 * the token endpoint's rules (DESIGN.md §4, oauth/scopes.ts), for the
 * session's user, as they signed in (auth_time, amr).
 */
import type { Grant } from '../../domain/grant.js';
import type { Tenant } from '../../domain/tenant.js';
import type { ApplicationRecord } from '../../storage/stores.js';
import { grantUserScopes, selectRequestedResource } from '../scopes.js';
import { sessionIdOf, type ActiveSession } from './browser-sessions.js';

export interface SessionGrantRequest {
  grantType: string;
  audience: string | undefined;
  scopes: string[] | undefined;
  nonce?: string | undefined;
}

export function sessionGrant(tenant: Tenant, app: ApplicationRecord, session: ActiveSession, request: SessionGrantRequest): Grant {
  const selection = selectRequestedResource(tenant, app, request);
  const offlineAllowed = (selection.api?.allow_offline_access ?? true) && app.settings.grant_types.includes('refresh_token');
  const scopes = grantUserScopes({ selection, offlineAllowed });
  return {
    grantType: request.grantType,
    subject: { kind: 'user', user: session.user },
    api: selection.api,
    scopes,
    requestedScopes: request.scopes,
    authTime: session.record.authTime,
    refresh: scopes.includes('offline_access') ? { kind: 'new_family' } : { kind: 'none' },
    amr: session.record.amr,
    sessionId: sessionIdOf(session.record),
    ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
  };
}
