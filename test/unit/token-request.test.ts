/**
 * RFC 6749 §3.1: "Request and response parameters MUST NOT be included more
 * than once", and "Parameters sent without a value MUST be treated as if
 * they were omitted from the request." Parsing is pure: these are its rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestParameters } from '../../src/oauth/request-parameters.js';

const json = (text: string) => RequestParameters.fromJson(JSON.parse(text) as unknown, text);

describe('RequestParameters', () => {
  it('form: repeats are invalid_request, empty values are absent', () => {
    assert.throws(() => RequestParameters.fromForm('a=1&a=2'), { error: 'invalid_request' });
    const p = RequestParameters.fromForm('a=1&b=&c=%20');
    assert.equal(p.get('a'), '1');
    assert.equal(p.has('b'), false);
    assert.equal(p.get('c'), ' ');
  });

  it('JSON: a repeated key is invalid_request, not silently the last value', () => {
    assert.throws(() => json('{"password":"a","password":"b"}'), { error: 'invalid_request', description: /"password" is repeated/ });
    assert.throws(() => json('{"a":"1", "b":"2", "a":"1"}'), { error: 'invalid_request' });
  });

  it('JSON: only top-level keys count, and nested values are refused on their own', () => {
    assert.throws(() => json('{"a":{"x":"1","x":"2"}}'), { error: 'invalid_request', description: /must be a string/ });
    assert.equal(json('{"a":"1","b":"2"}').get('b'), '2');
  });

  it('JSON: non-strings and non-objects are refused; null means absent', () => {
    assert.throws(() => json('{"a":1}'), { error: 'invalid_request' });
    assert.throws(() => json('["a"]'), { error: 'invalid_request' });
    assert.equal(json('{"a":null}').has('a'), false);
  });

  it('descriptions name only parameters this server defines; a name the client made up is never repeated back (issue #11 point 11)', () => {
    assert.throws(() => RequestParameters.fromForm('username=a&username=b'), {
      error: 'invalid_request',
      description: /^The parameter "username" is repeated/,
    });
    for (const madeUp of ['lookslikeoauth', 'x_client_info', '<script>x</script>']) {
      const name = encodeURIComponent(madeUp);
      assert.throws(
        () => RequestParameters.fromForm(`${name}=1&${name}=2`),
        (err: Error & { description: string }) => {
          assert.ok(!err.description.includes(madeUp), err.description);
          assert.match(err.description, /^A parameter is repeated/);
          return true;
        },
      );
      assert.throws(
        () => RequestParameters.fromForm(`${name}=${'x'.repeat(4097)}`),
        (err: Error & { description: string }) => !err.description.includes(madeUp),
      );
    }
  });

  it('caps lengths and counts', () => {
    assert.throws(() => RequestParameters.fromForm(`a=${'x'.repeat(4097)}`), { error: 'invalid_request' });
    assert.equal(RequestParameters.fromForm(`client_assertion=${'x'.repeat(10_000)}`).get('client_assertion')?.length, 10_000);
    assert.throws(() => RequestParameters.fromForm(Array.from({ length: 65 }, (_, i) => `p${i}=1`).join('&')), {
      error: 'invalid_request',
    });
  });
});
