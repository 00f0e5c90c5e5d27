/**
 * The device authorization endpoint (RFC 8628 §3.1) at every provider's
 * path (DESIGN.md §7), one implementation (oauth/device/device-authorization.ts)
 * behind the dialects: Auth0 `/T/oauth/device/code` (form or JSON), Entra
 * `/T/oauth2/v2.0/devicecode`, the seed's `/T/devicecode` and
 * `/T/oauth/devicecode` (MSAL derives it from discovery's token endpoint by
 * replacing `/token`), PingFederate `/T/as/device_authz.oauth2`.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog } from '../../domain/tenant.js';
import {
  DEVICE_AUTHORIZATION_PATH,
  type DeviceAuthorization,
  type DeviceAuthorizationEndpoint,
} from '../../oauth/device/device-authorization.js';
import { bodyParameters } from '../body.js';
import { DIALECT_ACCEPTS_JSON, type Dialect } from '../dialects.js';
import { requestOrigin } from '../request-origin.js';
import { tenantOf } from '../tenant.js';

/** Dialect and path below the issuer (`/T/`); the URL a request was sent to is a valid `aud` of its client assertion. */
const DEVICE_PATHS: Array<[Dialect, string]> = [
  ['auth0', DEVICE_AUTHORIZATION_PATH],
  ['entra', 'oauth2/v2.0/devicecode'],
  ['entra', 'devicecode'],
  ['entra', 'oauth/devicecode'],
  ['ping', 'as/device_authz.oauth2'],
];

export interface DeviceRoutesDeps {
  deviceAuthorization: DeviceAuthorizationEndpoint;
  catalog: Catalog;
}

export const deviceRoutes: FastifyPluginAsync<DeviceRoutesDeps> = async (app, { deviceAuthorization, catalog }) => {
  for (const [dialect, path] of DEVICE_PATHS) {
    app.post(`/:tenant/${path}`, async (request: FastifyRequest, reply: FastifyReply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      const tenant = tenantOf(request, catalog);
      const result = await deviceAuthorization.handle({
        tenant,
        endpointUrl: `${tenant.endpoints.issuer}${path}`,
        authorization: request.headers.authorization,
        params: bodyParameters(request, { allowJson: DIALECT_ACCEPTS_JSON[dialect] }),
        origin: requestOrigin(request.raw, tenant),
        userAgent: request.headers['user-agent'],
      });
      return renderDeviceAuthorization(dialect, result);
    });
  }
};

/**
 * RFC 8628 §3.2, as every provider writes it (numeric `expires_in` and
 * `interval`: MSAL does arithmetic on them), plus Entra ID's `message`, the
 * sentence MSAL's examples print for the person.
 */
function renderDeviceAuthorization(dialect: Dialect, result: DeviceAuthorization): Record<string, string | number> {
  const body: Record<string, string | number> = {
    device_code: result.deviceCode,
    user_code: result.userCode,
    verification_uri: result.verificationUri,
    verification_uri_complete: result.verificationUriComplete,
    expires_in: result.expiresIn,
    interval: result.interval,
  };
  if (dialect === 'entra') {
    body.message = `To sign in, use a web browser to open the page ${result.verificationUri} and enter the code ${result.userCode} to authenticate.`;
  }
  return body;
}
