/** Wire grant names → grant modules, built once with the services the grants use. */
import { DEVICE_CODE_GRANT, DEVICE_CODE_GRANT_ALIAS, type GrantTypeName } from '../../domain/grant-types.js';
import { createAuthorizationCodeGrant, type AuthorizationCodeGrantDeps } from './authorization-code.js';
import { createClientCredentialsGrant } from './client-credentials.js';
import type { GrantHandler, PreparedGrant } from './grant-handler.js';
import { createMfaGrant, type MfaGrantDeps } from './mfa.js';
import { createPasswordGrant, type PasswordGrantDeps } from './password.js';
import { createRefreshTokenGrant, type RefreshTokenGrantDeps } from './refresh-token.js';
import type { RequestParameters } from '../request-parameters.js';
import { createDeviceCodeGrant, type DeviceCodeGrantDeps } from './device-code.js';

export type GrantRegistryDeps = PasswordGrantDeps & RefreshTokenGrantDeps & MfaGrantDeps & AuthorizationCodeGrantDeps & DeviceCodeGrantDeps;

/** A grant this server implements, found by the request's `grant_type`. */
export interface RegisteredGrant {
  readonly name: GrantTypeName;
  /** Parses the request's parameters now (throwing on bad ones, without I/O); the returned step decides later. */
  parse(params: RequestParameters): PreparedGrant;
}

export interface GrantRegistry {
  /** The grant a `grant_type` names; undefined for a name this server does not implement. */
  find(grantType: string): RegisteredGrant | undefined;
}

export function createGrantRegistry(deps: GrantRegistryDeps): GrantRegistry {
  const byName = new Map<string, RegisteredGrant>([
    ...registered(createPasswordGrant(deps)),
    ...registered(createRefreshTokenGrant(deps)),
    ...registered(createClientCredentialsGrant()),
    ...registered(createMfaGrant(deps)),
    ...registered(createAuthorizationCodeGrant(deps)),
    // RFC 8628: the device grant, and the bare `device_code` MSAL posts to whatever token endpoint discovery names
    // (DESIGN.md §7). The alias answers as the URN, so the application's grant_types names the URN.
    ...registered(createDeviceCodeGrant(deps)),
  ]);
  const deviceGrant = byName.get(DEVICE_CODE_GRANT);
  if (deviceGrant) byName.set(DEVICE_CODE_GRANT_ALIAS, deviceGrant);
  return { find: (grantType) => byName.get(grantType) };
}

/** One entry a wire name of the module, each hiding the module's request type behind the step it prepares. */
function registered<Request>(handler: GrantHandler<Request>): Array<[string, RegisteredGrant]> {
  return handler.grantTypes.map((name) => {
    const parse = (params: RequestParameters): PreparedGrant => {
      const request = handler.parse(params, name);
      return (ctx) => handler.handle(request, ctx);
    };
    return [name, { name, parse }];
  });
}
