/** Auth0's metadata PATCH: a top-level merge where null removes a key (domain/user-metadata.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_METADATA_BYTES, mergeMetadata, metadataFits } from '../../src/domain/user-metadata.js';

describe('mergeMetadata', () => {
  it('replaces the keys given, removes those set to null, keeps the rest', () => {
    const current = { theme: 'dark', prefs: { a: 1, b: 2 }, gone: true };
    assert.deepEqual(mergeMetadata(current, { prefs: { a: 3 }, gone: null, added: [1] }), { theme: 'dark', prefs: { a: 3 }, added: [1] });
    assert.deepEqual(current, { theme: 'dark', prefs: { a: 1, b: 2 }, gone: true }, 'the input is not changed');
    assert.deepEqual(mergeMetadata(current, {}), current);
  });

  it('keeps a key named __proto__ as data, never as the prototype', () => {
    const merged = mergeMetadata({}, JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>);
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.equal((merged as { polluted?: unknown }).polluted, undefined);
    assert.equal(JSON.stringify(merged), '{"__proto__":{"polluted":true}}');
  });

  it('measures the stored JSON against the limit', () => {
    assert.equal(metadataFits({ a: 'x'.repeat(MAX_METADATA_BYTES - 20) }), true);
    assert.equal(metadataFits({ a: 'é'.repeat(MAX_METADATA_BYTES / 2) }), false, 'bytes, not characters');
  });
});
