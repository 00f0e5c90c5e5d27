/**
 * The `q` of GET /api/v2/users (domain/user-search.ts): a small subset of
 * Auth0's Lucene-style user search, anything else plain text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { likeLiteral, parseUserSearch, prefixRangeEnd } from '../../src/domain/user-search.js';

const ALL = ['email', 'username', 'name'];

describe('parseUserSearch', () => {
  it('reads field terms: quoted values are exact, * at either end chooses prefix, suffix or substring', () => {
    assert.deepEqual(parseUserSearch('email:"Alice@Example.com"'), { fields: ['email'], match: 'exact', value: 'alice@example.com' });
    assert.deepEqual(parseUserSearch('username:alice'), { fields: ['username'], match: 'exact', value: 'alice' });
    assert.deepEqual(parseUserSearch('name:Jo*'), { fields: ['name'], match: 'prefix', value: 'jo' });
    assert.deepEqual(parseUserSearch('email:*@example.com'), { fields: ['email'], match: 'suffix', value: '@example.com' });
    assert.deepEqual(parseUserSearch('name:*ann*'), { fields: ['name'], match: 'contains', value: 'ann' });
    assert.deepEqual(parseUserSearch('name:"jo*"'), { fields: ['name'], match: 'exact', value: 'jo*' }, 'a phrase keeps its *');
    assert.deepEqual(parseUserSearch('name:"say \\"hi\\""'), { fields: ['name'], match: 'exact', value: 'say "hi"' });
  });

  it('reads anything else as plain text: the start of email, username or name', () => {
    assert.deepEqual(parseUserSearch('  Alice '), { fields: ALL, match: 'prefix', value: 'alice' });
    assert.deepEqual(parseUserSearch('"Alice Liddell"'), { fields: ALL, match: 'prefix', value: 'alice liddell' });
    assert.deepEqual(parseUserSearch('*smith'), { fields: ALL, match: 'suffix', value: 'smith' });
    assert.deepEqual(parseUserSearch('email:a AND name:b'), { fields: ['email'], match: 'exact', value: 'a and name:b' });
    assert.deepEqual(parseUserSearch('phone_number:123'), { fields: ALL, match: 'prefix', value: 'phone_number:123' });
    assert.deepEqual(parseUserSearch('"a" OR "b"'), { fields: ALL, match: 'prefix', value: '"a" or "b"' });
    assert.deepEqual(parseUserSearch("'; drop table users; --"), { fields: ALL, match: 'prefix', value: "'; drop table users; --" });
    assert.deepEqual(parseUserSearch('ＡＬＩＣＥ'), { fields: ALL, match: 'prefix', value: 'alice' }, 'NFKC, as logins');
  });

  it('asks for no search when nothing is left to match', () => {
    for (const q of ['', '   ', '*', '**', '""', 'email:""', 'name:*', 'name:**']) assert.equal(parseUserSearch(q), undefined, q);
  });
});

describe('prefixRangeEnd and likeLiteral', () => {
  it('ends a prefix range at the next code point of its last character', () => {
    assert.equal(prefixRangeEnd('jo'), 'jp');
    assert.equal(prefixRangeEnd('a\u{ffff}'), 'a\u{10000}');
    assert.equal(prefixRangeEnd('\u{d7ff}'), '\u{e000}');
    assert.equal(prefixRangeEnd('x\u{10ffff}'), undefined);
  });

  it('escapes LIKE wildcards and the escape character itself', () => {
    assert.equal(likeLiteral('100%_a\\b'), '100\\%\\_a\\\\b');
  });
});
