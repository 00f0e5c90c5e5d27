/**
 * Random tokens drawn from the pooled CSPRNG buffer (crypto/secrets.ts): the
 * requested length, base64url only, never the same value twice, also across
 * refills of the pool and for lengths that do not divide it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomToken } from '../../src/crypto/secrets.js';

describe('randomToken', () => {
  it('gives the requested number of random bytes as base64url, all distinct across many pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      for (const bytes of [16, 32, 24]) {
        const token = randomToken(bytes);
        assert.match(token, /^[A-Za-z0-9_-]+$/);
        assert.equal(Buffer.from(token, 'base64url').length, bytes);
        assert.ok(!seen.has(token), 'a token value came out twice');
        seen.add(token);
      }
    }
  });

  it('is not all zeros (a pool handed out before it was filled) and varies in every byte position', () => {
    const tokens = Array.from({ length: 200 }, () => Buffer.from(randomToken(32), 'base64url'));
    for (let position = 0; position < 32; position++) {
      assert.ok(new Set(tokens.map((t) => t[position])).size > 50, `byte ${position} barely varies`);
    }
  });

  it('serves more than the pool holds in one call straight from the CSPRNG', () => {
    assert.equal(Buffer.from(randomToken(4096), 'base64url').length, 4096);
  });
});
