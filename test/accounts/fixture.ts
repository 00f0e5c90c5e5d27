/**
 * The tenant of the account suites (issue #15 point 1): a database
 * connection open to sign-up, one closed (the default), an application that
 * signs users in with the password grant, and one known user.
 */
import type { TenantInput } from '../helpers/server.js';

export const SHOP = { client_id: 'shop', client_secret: 'shop-secret-0123456789' };
export const OPEN = 'Users';
export const CLOSED = 'Staff';
export const SHOP_API = 'https://api.shop.test';
export const KNOWN = { email: 'known@shop.test', password: 'the known user password 1' };

export function accountsTenant(): TenantInput {
  return {
    name: 'acme',
    default_directory: OPEN,
    // A short lock, so the reset suite can show a new password lifting it.
    attack_protection: { brute_force: { threshold: 3 } },
    connections: [
      { name: OPEN, type: 'database', disable_signup: false },
      { name: CLOSED, type: 'database' },
    ],
    apis: [{ identifier: SHOP_API, scopes: ['read:orders'], token_lifetime: 600, allow_offline_access: true }],
    applications: [
      {
        ...SHOP,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['password', 'http://auth0.com/oauth/grant-type/password-realm', 'refresh_token'],
      },
    ],
    users: [{ connection: OPEN, username: KNOWN.email, email: KNOWN.email, password: KNOWN.password }],
  };
}
