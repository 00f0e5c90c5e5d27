/** Wire grant names → grant modules, built once with the services the grants use. */
import type { GrantTypeName } from '../../domain/grant-types.js';
import { createClientCredentialsGrant } from './client-credentials.js';
import { erase, type AnyGrantHandler, type PreparedGrant } from './grant-handler.js';
import { createMfaGrant, type MfaGrantDeps } from './mfa.js';
import { createPasswordGrant, type PasswordGrantDeps } from './password.js';
import { createRefreshTokenGrant, type RefreshTokenGrantDeps } from './refresh-token.js';
import type { RequestParameters } from '../request-parameters.js';

export type GrantRegistryDeps = PasswordGrantDeps & RefreshTokenGrantDeps & MfaGrantDeps;

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
  const handlers: AnyGrantHandler[] = [
    erase(createPasswordGrant(deps)),
    erase(createRefreshTokenGrant(deps)),
    erase(createClientCredentialsGrant()),
    erase(createMfaGrant(deps)),
  ];
  const byName = new Map<string, RegisteredGrant>(
    handlers.flatMap((handler) =>
      handler.grantTypes.map((name): [string, RegisteredGrant] => [name, { name, parse: (params) => handler.prepare(params, name) }]),
    ),
  );
  return { find: (grantType) => byName.get(grantType) };
}
