/**
 * presentedClientAuth (src/oauth/client-auth/presented.ts): which client
 * authentication a request carries, without I/O.
 *
 * RFC 6749 §2.3: "The client MUST NOT use more than one authentication
 * method in each request." §2.3.1: "The client identifier is encoded using
 * the "application/x-www-form-urlencoded" encoding algorithm per Appendix B,
 * and the encoded value is used as the username; the client password is
 * encoded using the same algorithm and used as the password." Appendix B:
 * space is "+", other octets outside the unreserved set are "%XX" of their
 * UTF-8 encoding. RFC 7521 §4.2 / RFC 7523 §2.2: client_assertion_type MUST
 * be "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JWT_BEARER_ASSERTION_TYPE, presentedClientAuth, type PresentedClientAuth } from '../../src/oauth/client-auth/presented.js';
import { InvalidRequestError } from '../../src/domain/errors.js';
import { RequestParameters } from '../../src/oauth/request-parameters.js';

const form = (params: Record<string, string> = {}): RequestParameters => RequestParameters.fromForm(new URLSearchParams(params).toString());
const basicOf = (userPass: string): string => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;
/** RFC 6749 Appendix B encoding of one part. */
const formEncode = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');
const basic = (id: string, secret: string): string => basicOf(`${formEncode(id)}:${formEncode(secret)}`);

const invalidRequest = (fn: () => unknown, message?: RegExp): void => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidRequestError, `expected InvalidRequestError, got ${String(err)}`);
    assert.equal(err.error, 'invalid_request');
    assert.equal(err.statusCode, 400);
    if (message) assert.match(err.description, message);
    return true;
  });
};

const ASSERTION = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';

describe('presentedClientAuth', () => {
  describe('RFC 6749 §2.3.1 client_secret_basic', () => {
    it('form-decodes id and secret: + and %20 are spaces, %XX the octets', () => {
      const secret = 'acme basic:secret/with+odd chars';
      const expected: PresentedClientAuth = { method: 'client_secret_basic', clientId: 'acme-basic', secret };
      assert.deepEqual(presentedClientAuth(basic('acme-basic', secret), form()), expected);
      assert.deepEqual(presentedClientAuth(basicOf('acme-basic:acme%20basic%3Asecret%2Fwith%2Bodd%20chars'), form()), expected);
    });

    it('a raw, unencoded pair decodes differently: its + becomes a space', () => {
      const res = presentedClientAuth(basicOf('acme-basic:acme basic:secret/with+odd chars'), form());
      assert.deepEqual(res, { method: 'client_secret_basic', clientId: 'acme-basic', secret: 'acme basic:secret/with odd chars' });
    });

    it('splits at the first colon: an encoded id cannot contain one, the secret may', () => {
      assert.deepEqual(presentedClientAuth(basicOf('id:a:b:c'), form()), {
        method: 'client_secret_basic',
        clientId: 'id',
        secret: 'a:b:c',
      });
      assert.deepEqual(presentedClientAuth(basic('urn:client:1', 's'), form()), {
        method: 'client_secret_basic',
        clientId: 'urn:client:1',
        secret: 's',
      });
    });

    it('decodes UTF-8 percent-encoding', () => {
      assert.deepEqual(presentedClientAuth(basic('clïent', 'pässwörd €'), form()), {
        method: 'client_secret_basic',
        clientId: 'clïent',
        secret: 'pässwörd €',
      });
    });

    it('accepts an empty secret (it simply will not match)', () => {
      assert.deepEqual(presentedClientAuth(basicOf('id:'), form()), { method: 'client_secret_basic', clientId: 'id', secret: '' });
    });

    it('takes the scheme case-insensitively, with extra spaces', () => {
      const credentials = Buffer.from('id:secret').toString('base64');
      for (const header of [`basic ${credentials}`, `BASIC ${credentials}`, `Basic   ${credentials}`, `Basic ${credentials} `]) {
        assert.deepEqual(presentedClientAuth(header, form()), { method: 'client_secret_basic', clientId: 'id', secret: 'secret' }, header);
      }
    });

    it('ignores an Authorization header of another scheme', () => {
      assert.deepEqual(presentedClientAuth('Bearer abc.def.ghi', form({ client_id: 'c', client_secret: 's' })), {
        method: 'client_secret_post',
        clientId: 'c',
        secret: 's',
      });
      assert.deepEqual(presentedClientAuth('Bearer abc', form()), { method: 'missing' });
    });

    it('a malformed Basic header is invalid_request', () => {
      invalidRequest(() => presentedClientAuth('Basic', form()), /malformed/);
      invalidRequest(() => presentedClientAuth('Basic a b', form()), /malformed/);
      invalidRequest(() => presentedClientAuth('Basic !!!!', form()), /malformed/);
    });

    it('credentials without a colon are invalid_request', () => {
      invalidRequest(() => presentedClientAuth(basicOf('just-an-id'), form()), /client_id:client_secret/);
      invalidRequest(() => presentedClientAuth('Basic ', form()), /client_id:client_secret/);
    });

    it('an empty client_id is invalid_request', () => {
      invalidRequest(() => presentedClientAuth(basicOf(':secret'), form()), /empty client_id/);
    });

    it('broken percent-encoding is invalid_request', () => {
      invalidRequest(() => presentedClientAuth(basicOf('id:100%'), form()), /form-urlencoded/);
      invalidRequest(() => presentedClientAuth(basicOf('id%ZZ:secret'), form()), /form-urlencoded/);
      invalidRequest(() => presentedClientAuth(basicOf('id:%C3'), form()), /form-urlencoded/);
    });

    it('a body client_id equal to the Basic one is allowed; a different one is invalid_request', () => {
      assert.deepEqual(presentedClientAuth(basic('id', 's'), form({ client_id: 'id' })), {
        method: 'client_secret_basic',
        clientId: 'id',
        secret: 's',
      });
      invalidRequest(() => presentedClientAuth(basic('id', 's'), form({ client_id: 'other' })), /differs/);
    });

    it('the body client_id is compared with the decoded Basic id', () => {
      assert.deepEqual(presentedClientAuth(basic('urn:a b', 's'), form({ client_id: 'urn:a b' })), {
        method: 'client_secret_basic',
        clientId: 'urn:a b',
        secret: 's',
      });
    });
  });

  describe('RFC 6749 §2.3.1 client_secret_post', () => {
    it('client_id and client_secret in the body', () => {
      assert.deepEqual(presentedClientAuth(undefined, form({ client_id: 'c', client_secret: 's e+c' })), {
        method: 'client_secret_post',
        clientId: 'c',
        secret: 's e+c',
      });
    });

    it('works the same from a JSON body', () => {
      const params = RequestParameters.fromJson({ client_id: 'c', client_secret: 's' });
      assert.deepEqual(presentedClientAuth(undefined, params), { method: 'client_secret_post', clientId: 'c', secret: 's' });
    });

    it('client_secret without client_id is invalid_request', () => {
      invalidRequest(() => presentedClientAuth(undefined, form({ client_secret: 's' })), /without client_id/);
    });

    it('an empty client_secret is absent (RFC 6749 §3.1), leaving client_id alone', () => {
      assert.deepEqual(presentedClientAuth(undefined, form({ client_id: 'c', client_secret: '' })), { method: 'none', clientId: 'c' });
    });
  });

  describe('RFC 7523 §2.2 private_key_jwt', () => {
    it('client_assertion with the jwt-bearer type; client_id optional', () => {
      assert.equal(JWT_BEARER_ASSERTION_TYPE, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      assert.deepEqual(
        presentedClientAuth(undefined, form({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: ASSERTION })),
        {
          method: 'private_key_jwt',
          clientId: undefined,
          assertion: ASSERTION,
        },
      );
      assert.deepEqual(
        presentedClientAuth(
          undefined,
          form({ client_id: 'j', client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: ASSERTION }),
        ),
        {
          method: 'private_key_jwt',
          clientId: 'j',
          assertion: ASSERTION,
        },
      );
    });

    it('another client_assertion_type is invalid_request', () => {
      for (const type of [
        'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'URN:IETF:PARAMS:OAUTH:CLIENT-ASSERTION-TYPE:JWT-BEARER',
      ]) {
        invalidRequest(
          () => presentedClientAuth(undefined, form({ client_assertion_type: type, client_assertion: ASSERTION })),
          /client_assertion_type/,
        );
      }
    });

    it('client_assertion without its type, or the type without an assertion, is invalid_request', () => {
      invalidRequest(() => presentedClientAuth(undefined, form({ client_assertion: ASSERTION })), /client_assertion_type/);
      invalidRequest(
        () => presentedClientAuth(undefined, form({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE })),
        /client_assertion is required/,
      );
    });
  });

  describe('RFC 6749 §2.3: exactly one method', () => {
    it('Basic with client_secret in the body is invalid_request', () => {
      invalidRequest(() => presentedClientAuth(basic('id', 's'), form({ client_secret: 's' })), /more than one/);
      invalidRequest(() => presentedClientAuth(basic('id', 's'), form({ client_id: 'id', client_secret: 's' })), /more than one/);
    });

    it('Basic with a client assertion (or just its type) is invalid_request', () => {
      invalidRequest(
        () =>
          presentedClientAuth(basic('id', 's'), form({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: ASSERTION })),
        /more than one/,
      );
      invalidRequest(
        () => presentedClientAuth(basic('id', 's'), form({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE })),
        /more than one/,
      );
      invalidRequest(() => presentedClientAuth(basic('id', 's'), form({ client_assertion: ASSERTION })), /more than one/);
    });

    it('client_secret with a client assertion is invalid_request', () => {
      invalidRequest(
        () =>
          presentedClientAuth(
            undefined,
            form({ client_id: 'c', client_secret: 's', client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: ASSERTION }),
          ),
        /more than one/,
      );
    });

    it('all three at once is invalid_request', () => {
      invalidRequest(
        () =>
          presentedClientAuth(
            basic('id', 's'),
            form({ client_secret: 's', client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: ASSERTION }),
          ),
        /more than one/,
      );
    });
  });

  describe('RFC 6749 §2.1 / §3.2.1 public clients and no client', () => {
    it('client_id alone is method none', () => {
      assert.deepEqual(presentedClientAuth(undefined, form({ client_id: 'native', grant_type: 'password' })), {
        method: 'none',
        clientId: 'native',
      });
    });

    it('nothing at all is missing', () => {
      assert.deepEqual(presentedClientAuth(undefined, form({ grant_type: 'client_credentials' })), { method: 'missing' });
      assert.deepEqual(presentedClientAuth(undefined, RequestParameters.empty()), { method: 'missing' });
      assert.deepEqual(presentedClientAuth(undefined, form({ client_id: '' })), { method: 'missing' });
    });
  });
});
