/**
 * The standard test tenant `acme`: every kind of client and API the suites
 * need, with known credentials.
 */
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { hashPassword } from '../../src/identity/passwords.js';
import type { TenantInput } from './server.js';

export const API = 'https://api.acme.test';
export const API_ES256 = 'https://es256.acme.test';
export const API_EDDSA = 'https://eddsa.acme.test';
export const API_NO_OFFLINE = 'https://no-offline.acme.test';
export const SEED_API = 'https://someapi.com/api';

export const WEB = { client_id: 'acme-web', client_secret: 'acme-web-secret-0123456789' };
export const BASIC = { client_id: 'acme-basic', client_secret: 'acme basic:secret/with+odd chars' };
export const NATIVE = { client_id: 'acme-native' };
export const JWT_CLIENT = { client_id: 'acme-jwt' };
export const NO_REFRESH = { client_id: 'acme-no-refresh', client_secret: 'acme-no-refresh-secret-000' };
export const PING = { client_id: 'ro_client', client_secret: '2Federate' };
export const ENTRA = { client_id: '6731de76-14a6-49ae-97bc-6eba6914391e' };
export const REUSE = { client_id: 'acme-reuse', client_secret: 'acme-reuse-secret-00000000' };
export const RESOURCE_SERVER = { client_id: 'acme-api-server', client_secret: 'acme-api-server-secret-000' };

export const ALICE = { username: 'alice@acme.test', password: 'correct horse battery staple' };
export const JOE = { username: 'joe', password: '2Federate' };
export const SEED_USER = { username: 'user@example.com', password: 'pwd' };
export const EMPLOYEE = { username: 'bob@corp.acme.test', password: 'employee password 1' };
export const BLOCKED = { username: 'mallory@acme.test', password: 'blocked user password' };

export const ALL_GRANTS = ['password', 'http://auth0.com/oauth/grant-type/password-realm', 'refresh_token', 'client_credentials'] as const;

export interface AcmeFixture {
  tenant: TenantInput;
  /** Private key of the private_key_jwt client, and its kid. */
  jwtClientKey: CryptoKey;
  jwtClientKid: string;
}

export async function acmeFixture(overrides: Partial<TenantInput> = {}): Promise<AcmeFixture> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kty: 'EC', kid: 'acme-jwt-key-1', alg: 'ES256', use: 'sig' };
  // The Auth0 seed's password is three characters, below the policy for new passwords: import it as a hash.
  const seedUserHash = await hashPassword(SEED_USER.password);
  const tenant: TenantInput = {
    name: 'acme',
    default_directory: 'Username-Password-Authentication',
    connections: [
      { name: 'Username-Password-Authentication', type: 'database' },
      { name: 'employees', type: 'database' },
    ],
    apis: [
      {
        identifier: API,
        scopes: ['read:sample', 'write:sample', 'edit'],
        token_lifetime: 3600,
        allow_offline_access: true,
        signing_alg: 'RS256',
      },
      { identifier: API_ES256, scopes: ['read:es'], token_lifetime: 600, allow_offline_access: true, signing_alg: 'ES256' },
      { identifier: API_EDDSA, scopes: ['read:ed'], token_lifetime: 600, allow_offline_access: true, signing_alg: 'EdDSA' },
      { identifier: API_NO_OFFLINE, scopes: ['read:x'], token_lifetime: 600, allow_offline_access: false },
      { identifier: SEED_API, scopes: ['read:sample', 'write:sample'], token_lifetime: 36000, allow_offline_access: true },
    ],
    applications: [
      { ...WEB, token_endpoint_auth_method: 'client_secret_post', grant_types: [...ALL_GRANTS] },
      { ...BASIC, token_endpoint_auth_method: 'client_secret_basic', grant_types: [...ALL_GRANTS] },
      { ...NATIVE, token_endpoint_auth_method: 'none', grant_types: ['password', 'refresh_token'] },
      { ...JWT_CLIENT, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, grant_types: [...ALL_GRANTS] },
      { ...NO_REFRESH, token_endpoint_auth_method: 'client_secret_post', grant_types: ['password'] },
      { ...PING, token_endpoint_auth_method: 'client_secret_basic', grant_types: ['password', 'refresh_token'], default_audience: API },
      { ...ENTRA, token_endpoint_auth_method: 'none', grant_types: ['password', 'refresh_token'] },
      {
        ...REUSE,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['password', 'refresh_token'],
        refresh_token: { reuse_interval: 30, idle_lifetime: 3600, absolute_lifetime: 7200 },
      },
      {
        ...RESOURCE_SERVER,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['client_credentials'],
        default_audience: API,
        resource_server: true,
      },
    ],
    users: [
      {
        connection: 'Username-Password-Authentication',
        username: ALICE.username,
        email: ALICE.username,
        email_verified: true,
        name: 'Alice Liddell',
        given_name: 'Alice',
        family_name: 'Liddell',
        password: ALICE.password,
      },
      { connection: 'Username-Password-Authentication', username: JOE.username, name: 'Joe', password: JOE.password },
      {
        connection: 'Username-Password-Authentication',
        username: SEED_USER.username,
        email: SEED_USER.username,
        password_hash: seedUserHash,
      },
      { connection: 'Username-Password-Authentication', username: BLOCKED.username, password: BLOCKED.password, blocked: true },
      { connection: 'employees', username: EMPLOYEE.username, email: EMPLOYEE.username, password: EMPLOYEE.password },
    ],
    ...overrides,
  };
  // Every client_credentials application of the suites may call every API with all its scopes, as before client
  // grants existed (DESIGN.md §9); suites about client grants set their own.
  tenant.client_grants = overrides.client_grants ?? clientGrantsForEveryApi(tenant);
  return { tenant, jwtClientKey: privateKey, jwtClientKid: jwk.kid };
}

type ClientGrantInput = NonNullable<TenantInput['client_grants']>[number];

/** A client grant for each client_credentials application of `tenant` and each of its APIs, with every scope. */
export function clientGrantsForEveryApi(tenant: Pick<TenantInput, 'applications' | 'apis'>): ClientGrantInput[] {
  const machines = (tenant.applications ?? []).filter((app) => app.grant_types?.includes('client_credentials'));
  return machines.flatMap((app) =>
    (tenant.apis ?? []).map((api) => ({ client_id: app.client_id, audience: api.identifier, scope: [...(api.scopes ?? [])] })),
  );
}
