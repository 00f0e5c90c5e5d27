/**
 * `GET /keys/signing`, `GET /keys/signing/{kid}`, `POST /keys/signing/rotate`
 * (DESIGN.md §9) in Auth0's shapes; the rules are
 * oauth/management/signing-keys.ts. Auth0 has no `alg` on a key; Latchkey
 * adds it because a tenant may publish keys of several algorithms.
 */
import { z } from 'zod';
import type { PublishedSigningKey, SigningKeyManagement } from '../../oauth/management/signing-keys.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';

export const signingKeySchema = z
  .object({
    kid: z.string(),
    cert: z.string().describe('PEM X.509 certificate over the key, self-signed by it.'),
    pkcs7: z.string().describe('The certificate in a PKCS #7 container (PEM).'),
    current: z.boolean().describe('The key signs new tokens.'),
    previous: z.boolean().describe('Retired by a rotation; still published for the tokens it signed.'),
    current_since: z.string().describe('When the key began signing (ISO 8601).'),
    current_until: z.string().optional().describe('When a rotation retired it (ISO 8601).'),
    fingerprint: z.string().describe('SHA-1 of the DER certificate, upper-case hex pairs joined by colons.'),
    thumbprint: z.string().describe('The same SHA-1 as bare upper-case hex.'),
    alg: z.string().describe('The JWS algorithm the key signs with (Latchkey: a tenant may have one key per algorithm).'),
  })
  .meta({ id: 'SigningKey' });

const rotatedSchema = z.object({ cert: z.string(), kid: z.string() }).meta({ id: 'RotatedSigningKey' });

export function keyEndpoints(keys: SigningKeyManagement): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'GET',
      path: '/keys/signing',
      operationId: 'get_signing_keys',
      tag: 'keys',
      summary: "List the tenant's published signing keys",
      scopes: ['read:signing_keys'],
      responses: { 200: { description: 'The published keys, newest first', schema: z.array(signingKeySchema) } },
      handle: async ({ tenant }) => ({ status: 200, body: (await keys.list(tenant)).map(describeKey) }),
    }),
    defineEndpoint({
      method: 'GET',
      path: '/keys/signing/{kid}',
      operationId: 'get_signing_key',
      tag: 'keys',
      summary: 'Get a signing key',
      scopes: ['read:signing_keys'],
      params: z.object({ kid: z.string().min(1).max(128) }),
      responses: {
        200: { description: 'The key', schema: signingKeySchema },
        404: { description: 'No such published key in this tenant' },
      },
      handle: async ({ tenant, params }) => ({ status: 200, body: describeKey(await keys.get(tenant, params.kid)) }),
    }),
    defineEndpoint({
      method: 'POST',
      path: '/keys/signing/rotate',
      operationId: 'post_signing_keys',
      tag: 'keys',
      summary: 'Rotate the signing keys: new keys sign from now on, the old ones stay published until their tokens expire',
      scopes: ['create:signing_keys'],
      responses: { 201: { description: 'The new key that signs ID tokens', schema: rotatedSchema } },
      handle: async ({ tenant }) => {
        const fresh = await keys.rotate(tenant);
        return { status: 201, body: { cert: fresh.certificate, kid: fresh.kid }, target: fresh.kid };
      },
    }),
  ];
}

function describeKey(key: PublishedSigningKey): z.output<typeof signingKeySchema> {
  return {
    kid: key.kid,
    cert: key.certificate,
    pkcs7: key.pkcs7,
    current: key.current,
    previous: key.previous,
    current_since: key.currentSince.toISOString(),
    ...(key.currentUntil === undefined ? {} : { current_until: key.currentUntil.toISOString() }),
    fingerprint: key.fingerprint,
    thumbprint: key.thumbprint,
    alg: key.alg,
  };
}
