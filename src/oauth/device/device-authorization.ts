/**
 * The device authorization endpoint (RFC 8628 §3.1–3.2), the same for the
 * Auth0, Entra and PingFederate paths: the token endpoint's checklist up to
 * the grant (parse → tenant budget → client authentication → client budget
 * → the application's grant_types → the API), then a new device code and
 * user code. Only the device code's SHA-256 is stored.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { DEFAULT_DEVICE_FLOW } from '../../config/schema.js';
import { randomToken, sha256Base64Url } from '../../crypto/secrets.js';
import { ServerError, UnauthorizedClientError } from '../../domain/errors.js';
import { DEVICE_CODE_GRANT } from '../../domain/grant-types.js';
import type { Tenant } from '../../domain/tenant.js';
import { endUserIp, type RequestOrigin } from '../../protection/end-user-ip.js';
import type { RateLimits } from '../../protection/rate-limits.js';
import type { DeviceCodeStore } from '../../storage/browser-stores.js';
import type { ClientAuthenticator } from '../client-auth/authenticate.js';
import { presentedClientAuth } from '../client-auth/presented.js';
import { refuseManagementApiOutsideBrowser } from '../management-audience.js';
import type { RequestParameters } from '../request-parameters.js';
import { optionalScopes, requestedAudience, selectRequestedResource } from '../scopes.js';
import { formatUserCode, newUserCode } from './user-codes.js';

export interface DeviceAuthorizationDeps {
  clientAuthenticator: ClientAuthenticator;
  rateLimits: Pick<RateLimits, 'checkTenant' | 'checkClient'>;
  deviceCodes: Pick<DeviceCodeStore, 'create'>;
  clock: Clock;
}

export interface DeviceAuthorizationRequest {
  tenant: Tenant;
  /** The URL this request was sent to: a valid `aud` for client assertions. */
  endpointUrl: string;
  authorization: string | undefined;
  params: RequestParameters;
  origin: RequestOrigin;
  /** Shown on the verification page (RFC 8628 §5.4), so the person can tell their device from someone else's. */
  userAgent: string | undefined;
}

/** RFC 8628 §3.2, in domain terms; the HTTP dialects write it. */
export interface DeviceAuthorization {
  deviceCode: string;
  /** As shown: `XXXX-XXXX`. */
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  expiresIn: number;
  interval: number;
}

/** Below the issuer: the Auth0 path, which discovery names as `device_authorization_endpoint` (DESIGN.md §7). */
export const DEVICE_AUTHORIZATION_PATH = 'oauth/device/code';
/** Below the issuer: the verification page (`verification_uri`). */
export const VERIFICATION_PATH = 'activate';

/** 256 bits: a device code is a bearer secret for the token endpoint. */
const DEVICE_CODE_BYTES = 32;
/** A user code already held by a live request is drawn again; at 20^8 values, a handful of draws is plenty. */
const USER_CODE_DRAWS = 5;
const MAX_USER_AGENT_LENGTH = 512;

export class DeviceAuthorizationEndpoint {
  constructor(private readonly deps: DeviceAuthorizationDeps) {}

  async handle(request: DeviceAuthorizationRequest): Promise<DeviceAuthorization> {
    const { tenant, params } = request;
    // Parameter errors are answered before any credential is checked or counted.
    const presented = presentedClientAuth(request.authorization, params);
    const scopes = optionalScopes(params);
    const audience = requestedAudience(params);
    await this.deps.rateLimits.checkTenant(tenant);
    const client = await this.deps.clientAuthenticator.authenticate(presented, tenant, request.endpointUrl);
    await this.deps.rateLimits.checkClient(tenant, client.app.clientId);
    if (!client.app.settings.grant_types.includes(DEVICE_CODE_GRANT)) {
      throw new UnauthorizedClientError(
        `The application is not allowed to use the device flow; add ${DEVICE_CODE_GRANT} to the application's grant_types.`,
      );
    }
    // The API is chosen now (invalid_target for an unknown one), so the device learns at once, not after the person approved.
    const { api } = selectRequestedResource(tenant, client.app, { audience, scopes });
    // DESIGN.md §9: a user's Management API token comes from a browser sign-in on this server only, never a device's.
    refuseManagementApiOutsideBrowser(tenant, api, DEVICE_CODE_GRANT);
    const ip = endUserIp(request.origin, tenant, client).ip;

    const flow = tenant.settings.device_flow ?? DEFAULT_DEVICE_FLOW;
    const deviceCode = randomToken(DEVICE_CODE_BYTES);
    const now = this.deps.clock.now();
    const record = {
      id: randomUUID(),
      deviceCodeHash: sha256Base64Url(deviceCode),
      tenantId: tenant.id,
      clientId: client.app.clientId,
      scope: scopes ?? [],
      audience: api?.identifier ?? null,
      requestIp: ip,
      requestUserAgent: request.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + flow.expires_in * 1000),
      interval: flow.interval,
      lastPolledAt: null,
      status: 'pending' as const,
      userId: null,
      grant: null,
    };
    for (let draw = 0; draw < USER_CODE_DRAWS; draw++) {
      const userCode = newUserCode();
      if (await this.deps.deviceCodes.create({ ...record, userCode })) {
        const verificationUri = `${tenant.endpoints.issuer}${VERIFICATION_PATH}`;
        const shown = formatUserCode(userCode);
        return {
          deviceCode,
          userCode: shown,
          verificationUri,
          verificationUriComplete: `${verificationUri}?user_code=${shown}`,
          expiresIn: flow.expires_in,
          interval: flow.interval,
        };
      }
    }
    throw new ServerError(`no free user code after ${USER_CODE_DRAWS} draws in tenant ${tenant.name}: are billions of device codes live?`);
  }
}
