/**
 * The JWS Compact Serialization the token service signs with (tokens/jwt-signer.ts,
 * RFC 7515 §7.1): what it signs, jose verifies with the published public key, for
 * every algorithm a tenant may sign with; the header is exactly the one jose wrote
 * before; ECDSA signatures are r‖s (RFC 7518 §3.4), not DER; a changed byte fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { SIGNING_ALGS, type SigningAlg } from '../../src/config/schema.js';
import { JwtSigner } from '../../src/tokens/jwt-signer.js';

async function keyPair(alg: SigningAlg) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  return { publicKey, privateJwk: (await exportJWK(privateKey)) as Record<string, unknown> };
}

const claims = {
  iss: 'https://issuer.example/t/',
  sub: 'auth0|u1',
  aud: 'https://api.example',
  scope: 'read:data',
  iat: 1,
  exp: 4102444800,
};

describe('JwtSigner', () => {
  for (const alg of SIGNING_ALGS) {
    it(`${alg}: jose verifies the token with the public key, and the claims come back unchanged`, async () => {
      const { publicKey, privateJwk } = await keyPair(alg);
      const token = await new JwtSigner('kid-1', alg, privateJwk).sign('at+jwt', claims);
      const verified = await jwtVerify(token, publicKey, { algorithms: [alg], typ: 'at+jwt' });
      assert.deepEqual(verified.payload, claims);
      assert.deepEqual(verified.protectedHeader, { alg, typ: 'at+jwt', kid: 'kid-1' });
    });
  }

  it('writes the header members in the order jose wrote them, per typ', async () => {
    const signer = new JwtSigner('k', 'RS256', (await keyPair('RS256')).privateJwk);
    const [accessHeader] = (await signer.sign('at+jwt', claims)).split('.');
    const [idHeader] = (await signer.sign('JWT', claims)).split('.');
    assert.equal(Buffer.from(accessHeader ?? '', 'base64url').toString(), '{"alg":"RS256","typ":"at+jwt","kid":"k"}');
    assert.deepEqual(decodeProtectedHeader(await signer.sign('JWT', claims)), { alg: 'RS256', typ: 'JWT', kid: 'k' });
    assert.notEqual(accessHeader, idHeader);
  });

  it('ES256 signatures are the 64-byte r‖s of RFC 7518 §3.4, not DER', async () => {
    const signer = new JwtSigner('k', 'ES256', (await keyPair('ES256')).privateJwk);
    const signature = (await signer.sign('JWT', claims)).split('.')[2] ?? '';
    assert.equal(Buffer.from(signature, 'base64url').length, 64);
  });

  it('a token with a changed payload does not verify', async () => {
    const { publicKey, privateJwk } = await keyPair('ES256');
    const [header, , signature] = (await new JwtSigner('k', 'ES256', privateJwk).sign('JWT', claims)).split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'auth0|admin' })).toString('base64url')}.${signature}`;
    await assert.rejects(jwtVerify(forged, publicKey, { algorithms: ['ES256'] }), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });
});
