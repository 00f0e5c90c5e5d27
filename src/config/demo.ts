/**
 * The demo tenant `npm start` serves without a config file. Its secrets are
 * random on first run and kept under ./data (mode 0600), never hard-coded.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makePrivateDirectory, PRIVATE_FILE_MODE } from '../storage/private-files.js';
import type { LatchkeyConfigInput } from './schema.js';

export interface DemoCredentials {
  client_id: string;
  client_secret: string;
  username: string;
  password: string;
}

export const DEMO_TENANT = 'demo';
export const DEMO_AUDIENCE = 'https://api.demo.test';
const DEMO_SCOPES = ['read:sample', 'write:sample'] as const;

export function demoCredentials(dataDir: string): DemoCredentials {
  const file = join(dataDir, 'demo-credentials.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials;
  makePrivateDirectory(dataDir);
  const credentials: DemoCredentials = {
    client_id: 'demo-app',
    client_secret: randomBytes(24).toString('base64url'),
    username: 'demo@demo.test',
    password: randomBytes(12).toString('base64url'),
  };
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
  return credentials;
}

export function demoConfig(dataDir: string, port: number): { config: LatchkeyConfigInput; credentials: DemoCredentials } {
  const credentials = demoCredentials(dataDir);
  const config: LatchkeyConfigInput = {
    public_url: `http://127.0.0.1:${port}`,
    listen: { host: '127.0.0.1', port },
    database: `sqlite:${resolve(dataDir, 'latchkey.db')}`,
    tenants: [
      {
        name: DEMO_TENANT,
        default_directory: 'Username-Password-Authentication',
        default_audience: DEMO_AUDIENCE,
        connections: [{ name: 'Username-Password-Authentication', type: 'database' }],
        apis: [
          { identifier: DEMO_AUDIENCE, scopes: [...DEMO_SCOPES], token_lifetime: 86_400, allow_offline_access: true, signing_alg: 'RS256' },
        ],
        applications: [
          {
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
            token_endpoint_auth_method: 'client_secret_post',
            grant_types: ['password', 'http://auth0.com/oauth/grant-type/password-realm', 'refresh_token', 'client_credentials'],
          },
        ],
        client_grants: [{ client_id: credentials.client_id, audience: DEMO_AUDIENCE, scope: [...DEMO_SCOPES] }],
        users: [
          {
            connection: 'Username-Password-Authentication',
            username: credentials.username,
            email: credentials.username,
            email_verified: true,
            name: 'Demo User',
            password: credentials.password,
          },
        ],
      },
    ],
  };
  return { config, credentials };
}

/** One line, starting with `curl`, that works when pasted (DESIGN.md §1). */
export function demoCurl(publicUrl: string, c: DemoCredentials): string {
  return [
    `curl --request POST --url '${publicUrl}/${DEMO_TENANT}/oauth/token'`,
    `--header 'content-type: application/x-www-form-urlencoded'`,
    `--data grant_type=password`,
    `--data-urlencode 'username=${c.username}'`,
    `--data-urlencode 'password=${c.password}'`,
    `--data-urlencode 'audience=${DEMO_AUDIENCE}'`,
    `--data-urlencode 'scope=openid offline_access read:sample'`,
    `--data-urlencode 'client_id=${c.client_id}'`,
    `--data-urlencode 'client_secret=${c.client_secret}'`,
  ].join(' ');
}
