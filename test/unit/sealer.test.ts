/**
 * Data sealed at rest (crypto/secrets.ts): what one key sealed, another key
 * (or another purpose) cannot open, and says so with a type the start-up's
 * master-key check can test (bootstrap/startup.ts), not with message text.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Sealer, UnsealError } from '../../src/crypto/secrets.js';

describe('Sealer', () => {
  const key = randomBytes(32);

  it('opens what it sealed', () => {
    const sealer = new Sealer(key, 'at-rest');
    assert.equal(sealer.unseal(sealer.seal('a private JWK')), 'a private JWK');
  });

  it('another master key, another purpose, altered or foreign text: UnsealError', () => {
    const sealed = new Sealer(key, 'at-rest').seal('a private JWK');
    const altered = `${sealed.slice(0, -2)}${sealed.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const [sealer, text, what] of [
      [new Sealer(randomBytes(32), 'at-rest'), sealed, 'another master key'],
      [new Sealer(key, 'mfa-token'), sealed, 'another purpose'],
      [new Sealer(key, 'at-rest'), altered, 'altered text'],
      [new Sealer(key, 'at-rest'), 'v1.short', 'too short to hold a tag'],
      [new Sealer(key, 'at-rest'), 'plain text', 'not sealed at all'],
    ] as const) {
      assert.throws(() => sealer.unseal(text), UnsealError, what);
    }
  });
});
