/**
 * Client authentication: exactly the method the application is registered
 * with (RFC 6749 §2.3, RFC 7523 §3, OIDC Core §9).
 */
import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JSONWebKeySet } from 'jose';
import { epochSeconds, type Clock } from '../../clock.js';
import type { SecretHasher } from '../../crypto/secrets.js';
import type { ApplicationRecord, SingleUseKeyStore } from '../../storage/stores.js';
import type { Tenant } from '../../domain/tenant.js';
import { InvalidClientError } from '../../domain/errors.js';
import type { AuthenticatedClient } from '../../domain/client.js';
import type { PresentedClientAuth } from './presented.js';

export interface ClientAuthDeps {
  secretHasher: SecretHasher;
  singleUseKeys: SingleUseKeyStore;
  clock: Clock;
}

/** RFC 7523 assertions may be signed with asymmetric algorithms only: no `none`, no HMAC. */
const ASSERTION_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const CLOCK_SKEW_SECONDS = 60;

/** Keeps unknown-client failures as slow as wrong-secret ones. */
const UNKNOWN_CLIENT_HASH = 'hmac-sha256:unknown-client-placeholder-value-000000000000';

/**
 * The one client authenticator of every endpoint that takes client
 * credentials: the token endpoint, revocation, introspection and the MFA API.
 */
export class ClientAuthenticator {
  constructor(private readonly deps: ClientAuthDeps) {}

  /**
   * Checks what the request presented (client-auth/presented.ts extracts it without I/O, so an
   * endpoint can answer parameter errors before any credential is checked).
   * `endpointUrl` is the URL the request was sent to: a valid `aud` for client assertions.
   */
  authenticate(presented: PresentedClientAuth, tenant: Tenant, endpointUrl: string): Promise<AuthenticatedClient> {
    return authenticateClient(presented, tenant, endpointUrl, this.deps);
  }
}

async function authenticateClient(
  presented: PresentedClientAuth,
  tenant: Tenant,
  endpointUrl: string,
  deps: ClientAuthDeps,
): Promise<AuthenticatedClient> {
  const usedBasic = presented.method === 'client_secret_basic';
  const fail = (description: string, logDetail?: string) =>
    new InvalidClientError(description, usedBasic, logDetail === undefined ? {} : { logDetail });

  if (presented.method === 'missing')
    throw fail('Client authentication is required: send client_id (and the credentials the application is registered with).');

  const clientId =
    presented.method === 'private_key_jwt' ? assertionClientId(presented.assertion, presented.clientId, usedBasic) : presented.clientId;
  const app = tenant.applications.get(clientId);

  if (presented.method === 'client_secret_basic' || presented.method === 'client_secret_post') {
    const matches = deps.secretHasher.verify(presented.secret, app?.clientSecretHash ?? UNKNOWN_CLIENT_HASH);
    if (!app || !matches || app.settings.token_endpoint_auth_method !== presented.method) {
      throw fail(
        'Client authentication failed.',
        !app
          ? `unknown client_id ${clientId}`
          : !matches
            ? `wrong client secret for ${clientId}`
            : `client ${clientId} is registered for ${app.settings.token_endpoint_auth_method}, not ${presented.method}`,
      );
    }
    return { app, method: presented.method };
  }
  if (!app) throw fail('Client authentication failed.', `unknown client_id ${clientId}`);
  if (app.settings.token_endpoint_auth_method !== presented.method) {
    throw fail(
      'Client authentication failed.',
      `client ${clientId} is registered for ${app.settings.token_endpoint_auth_method}, not ${presented.method}`,
    );
  }
  if (presented.method === 'private_key_jwt') await verifyAssertion(presented.assertion, app, tenant, endpointUrl, deps);
  return { app, method: presented.method };
}

function assertionClientId(assertion: string, bodyClientId: string | undefined, usedBasic: boolean): string {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(assertion);
  } catch {
    throw new InvalidClientError('client_assertion is not a JWT.', usedBasic);
  }
  if (typeof claims.sub !== 'string' || claims.sub === '' || claims.iss !== claims.sub) {
    throw new InvalidClientError('client_assertion must have iss and sub both equal to the client_id.', usedBasic);
  }
  if (bodyClientId !== undefined && bodyClientId !== claims.sub) {
    throw new InvalidClientError('client_id differs from the client_assertion subject.', usedBasic);
  }
  return claims.sub;
}

async function verifyAssertion(
  assertion: string,
  app: ApplicationRecord,
  tenant: Tenant,
  endpointUrl: string,
  deps: ClientAuthDeps,
): Promise<void> {
  const now = deps.clock.now();
  const keys = createLocalJWKSet((app.settings.jwks ?? { keys: [] }) as JSONWebKeySet);
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(assertion, keys, {
      algorithms: ASSERTION_ALGS,
      issuer: app.clientId,
      subject: app.clientId,
      currentDate: now,
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'jti', 'aud'],
    }));
  } catch (err) {
    const code = err instanceof joseErrors.JOSEError ? err.code : 'unknown';
    throw new InvalidClientError('client_assertion is invalid.', false, {
      logDetail: `client ${app.clientId}: assertion rejected (${code}: ${(err as Error).message})`,
    });
  }
  // OIDC Core §9 as revised after CVE-2025-27370: a single string, the issuer or this endpoint.
  if (typeof payload.aud !== 'string' || (payload.aud !== tenant.endpoints.issuer && payload.aud !== endpointUrl)) {
    throw new InvalidClientError(`client_assertion aud must be a single string: the issuer ${tenant.endpoints.issuer} or ${endpointUrl}.`);
  }
  const exp = payload.exp as number;
  if (exp > epochSeconds(now) + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
    throw new InvalidClientError(`client_assertion exp must be at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds ahead.`);
  }
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) {
    throw new InvalidClientError('client_assertion needs a jti of at most 256 characters.');
  }
  const key = `${tenant.id}:${app.clientId}:${payload.jti}`;
  const first = await deps.singleUseKeys.consume(key, new Date((exp + CLOCK_SKEW_SECONDS) * 1000), now);
  if (!first)
    throw new InvalidClientError('client_assertion was already used (jti replay).', false, {
      logDetail: `client ${app.clientId}: replayed assertion jti`,
    });
}
