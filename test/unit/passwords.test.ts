/**
 * Password hashing policy: argon2id with OWASP parameters for new hashes;
 * imported bcrypt and argon2 hashes verify and ask for a rehash; bcrypt's
 * 72-byte limit never truncates a password.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { isSupportedPasswordHash } from '../../src/domain/password-policy.js';
import { hashPassword, verifyPassword } from '../../src/identity/passwords.js';

describe('password hashing', () => {
  it('new hashes are argon2id m=19456 t=2 p=1 and need no rehash', async () => {
    const stored = await hashPassword('correct horse');
    assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.deepEqual(await verifyPassword('correct horse', stored), { valid: true, needsRehash: false });
    assert.deepEqual(await verifyPassword('correct horsE', stored), { valid: false });
  });

  it('an argon2id hash with weaker parameters verifies and asks for a rehash', async () => {
    const weak = await argon2Hash('pw-weak-params', { memoryCost: 4096, timeCost: 1, parallelism: 1 });
    assert.deepEqual(await verifyPassword('pw-weak-params', weak), { valid: true, needsRehash: true });
  });

  it('imported bcrypt hashes verify and ask for a rehash', async () => {
    const stored = await bcryptHash('imported password', 4);
    assert.ok(isSupportedPasswordHash(stored));
    assert.deepEqual(await verifyPassword('imported password', stored), { valid: true, needsRehash: true });
    assert.deepEqual(await verifyPassword('imported passworD', stored), { valid: false });
  });

  it('bcrypt never accepts a longer password on its first 72 bytes', async () => {
    const base = 'x'.repeat(72);
    const stored = await bcryptHash(base, 4);
    assert.equal((await verifyPassword(base, stored)).valid, true);
    assert.equal((await verifyPassword(`${base}-and-more`, stored)).valid, false);
  });

  it('long passwords are hashed whole by argon2id', async () => {
    const long = 'y'.repeat(500);
    const stored = await hashPassword(long);
    assert.equal((await verifyPassword(long, stored)).valid, true);
    assert.equal((await verifyPassword(`${long.slice(0, 499)}z`, stored)).valid, false);
  });

  it('unknown hash formats never verify', async () => {
    assert.deepEqual(await verifyPassword('pw', 'plaintext'), { valid: false });
    assert.deepEqual(await verifyPassword('pw', '$md5$abc'), { valid: false });
    assert.equal(isSupportedPasswordHash('$1$abc'), false);
  });
});
