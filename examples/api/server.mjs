// Example resource server ("your API" in the seeds) that accepts Latchkey
// access tokens: RFC 9068 JWTs (`typ: at+jwt`) sent as
// `Authorization: Bearer <token>` (RFC 6750 §2.1).
//
// Plain ESM on node:http and jose, which Node resolves from the root
// package's node_modules. Run it directly:
//
//   LATCHKEY_ISSUER=http://127.0.0.1:3000/demo/ API_AUDIENCE=https://api.demo.test \
//     node examples/api/server.mjs
//
// or import createApi() and mount its handler in a server of your own.

import http from 'node:http';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';

// The algorithms a Latchkey API may sign with (DESIGN §2 `signing_alg`).
// Pinning them keeps `none`, HS256 and anything else out.
export const ALGORITHMS = Object.freeze(['RS256', 'ES256', 'EdDSA']);

// RFC 9068 §2.2: claims every JWT access token carries.
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'client_id', 'jti'];

// Claims whose name may appear in an error_description (a fixed list keeps
// the header value inside RFC 6750's character set).
const KNOWN_CLAIMS = new Set([...REQUIRED_CLAIMS, 'nbf', 'typ', 'scope']);

const REALM = 'api';

// A token68 (RFC 7235 §2.1): what may follow "Bearer ".
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Raised when the signing keys cannot be fetched: our problem, not the token's. */
class KeysUnavailableError extends Error {
  constructor(cause) {
    super('signing keys unavailable', { cause });
    this.name = 'KeysUnavailableError';
  }
}

/** A response the handler sends for an authentication or authorization failure. */
class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(body.error);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/**
 * Builds a function that verifies a Latchkey access token and resolves to its
 * claims, or rejects with a jose error (token problem) or a
 * KeysUnavailableError (the JWKS could not be fetched).
 *
 * @param {{ issuer: string, audience: string | string[], jwksUrl?: string | URL,
 *           clockTolerance?: number, jwksOptions?: object }} options
 */
export function createVerifier({ issuer, audience, jwksUrl, clockTolerance = 5, jwksOptions } = {}) {
  if (typeof issuer !== 'string' || issuer === '') throw new TypeError('issuer is required');
  const audienceOk =
    (typeof audience === 'string' && audience !== '') ||
    (Array.isArray(audience) && audience.length > 0 && audience.every((a) => typeof a === 'string' && a !== ''));
  if (!audienceOk) {
    throw new TypeError('audience is required');
  }
  const url = new URL(jwksUrl ?? `${issuer}.well-known/jwks.json`);
  const remote = createRemoteJWKSet(url, jwksOptions);

  // createRemoteJWKSet refetches the set when a kid is unknown (key rotation),
  // at most once per cooldown. Errors that are about the token (no key with
  // that kid) stay jose errors; network, HTTP status and parse failures mean
  // we cannot judge the token at all.
  const getKey = async (protectedHeader, token) => {
    try {
      return await remote(protectedHeader, token);
    } catch (err) {
      if (err?.code === 'ERR_JWKS_NO_MATCHING_KEY' || err?.code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
        throw err;
      }
      throw new KeysUnavailableError(err);
    }
  };

  return async function verifyAccessToken(token) {
    const { payload } = await jwtVerify(token, getKey, {
      issuer, // compared byte for byte, trailing slash included
      audience,
      typ: 'at+jwt', // jose also accepts application/at+jwt
      algorithms: [...ALGORITHMS],
      requiredClaims: REQUIRED_CLAIMS,
      clockTolerance,
    });
    return payload;
  };
}

/** Quoted-string value for WWW-Authenticate, restricted to RFC 6750 §3's characters. */
function quote(value) {
  return `"${String(value).replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;
}

function challenge(params) {
  const parts = Object.entries({ realm: REALM, ...params }).map(([k, v]) => `${k}=${quote(v)}`);
  return `Bearer ${parts.join(', ')}`;
}

function invalidToken(description) {
  return new HttpError(
    401,
    { error: 'invalid_token', error_description: description },
    { 'WWW-Authenticate': challenge({ error: 'invalid_token', error_description: description }) },
  );
}

/** Maps a verification failure to a fixed description (never echoes the token). */
function describeVerifyError(err) {
  switch (err?.code) {
    case 'ERR_JWT_EXPIRED':
      return 'The access token expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (err.reason === 'missing' && KNOWN_CLAIMS.has(err.claim)) {
        return `The access token lacks the ${err.claim} claim`;
      }
      switch (err.claim) {
        case 'iss':
          return 'The access token was not issued by the expected issuer';
        case 'aud':
          return 'The access token is not intended for this API';
        case 'typ':
          return 'The token is not an access token (typ must be at+jwt)';
        case 'nbf':
          return 'The access token is not yet valid';
        default:
          return KNOWN_CLAIMS.has(err.claim)
            ? `The access token has an invalid ${err.claim} claim`
            : 'The access token has an invalid claim';
      }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'The access token is signed with an algorithm this API does not accept';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'The access token signature is invalid';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'The access token is signed with an unknown key';
    case 'ERR_JWT_INVALID':
    case 'ERR_JWS_INVALID':
      return 'The access token is malformed';
    default:
      return 'The access token is invalid';
  }
}

/**
 * Reads the bearer token from the Authorization header (RFC 6750 §2.1).
 * Returns undefined when the request carries no bearer credentials.
 */
function bearerToken(req) {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:[ ]+(.*))?$/.exec(header.trim());
  // Another scheme (Basic, ...) is not bearer credentials: treat as absent.
  if (!match || match[1].toLowerCase() !== 'bearer') return undefined;
  const token = (match[2] ?? '').trim();
  if (!TOKEN68.test(token)) {
    const description = 'The Authorization header must be Bearer followed by a single token';
    throw new HttpError(
      400,
      { error: 'invalid_request', error_description: description },
      { 'WWW-Authenticate': challenge({ error: 'invalid_request', error_description: description }) },
    );
  }
  return token;
}

function scopesOf(claims) {
  return typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
}

const ROUTES = {
  '/api/public': { auth: false },
  '/api/private': { auth: true },
  '/api/private-scoped': { auth: true, scope: 'read:sample' },
  '/api/write': { auth: true, scope: 'write:sample' },
};

/**
 * Returns a node:http request handler for the example API.
 *
 * @param {{ issuer: string, audience: string | string[], jwksUrl?: string | URL,
 *           clockTolerance?: number, jwksOptions?: object,
 *           log?: (entry: object) => void }} options
 *   `log` receives one object per request (method, path, status, reason);
 *   it never contains the token or any request header.
 */
export function createApi(options = {}) {
  const verify = createVerifier(options);
  const log = typeof options.log === 'function' ? options.log : () => {};

  async function authorize(req, route) {
    const token = bearerToken(req);
    if (token === undefined) {
      // RFC 6750 §3.1: no authentication information, so no error code.
      throw new HttpError(
        401,
        { error: 'unauthorized', error_description: 'An access token is required' },
        { 'WWW-Authenticate': challenge({}) },
      );
    }
    let claims;
    try {
      claims = await verify(token);
    } catch (err) {
      if (err instanceof KeysUnavailableError) {
        throw new HttpError(
          503,
          { error: 'temporarily_unavailable', error_description: 'The signing keys could not be fetched' },
          { 'Retry-After': '5' },
        );
      }
      throw invalidToken(describeVerifyError(err));
    }
    if (route.scope && !scopesOf(claims).includes(route.scope)) {
      const description = `The access token lacks the ${route.scope} scope`;
      throw new HttpError(
        403,
        { error: 'insufficient_scope', error_description: description, scope: route.scope },
        {
          'WWW-Authenticate': challenge({
            error: 'insufficient_scope',
            error_description: description,
            scope: route.scope,
          }),
        },
      );
    }
    return claims;
  }

  return async function handler(req, res) {
    let path = '/';
    let status = 500;
    let reason;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const route = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
      if (!route) {
        status = 404;
        return send(res, 404, { error: 'not_found' });
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        status = 405;
        return send(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET, HEAD' });
      }
      if (!route.auth) {
        status = 200;
        return send(res, 200, {
          message: 'Hello from a public endpoint! You don\'t need to be authenticated to see this.',
        });
      }
      const claims = await authorize(req, route);
      status = 200;
      return send(
        res,
        200,
        { sub: claims.sub, client_id: claims.client_id, scope: claims.scope ?? '' },
        { 'Cache-Control': 'no-store' },
      );
    } catch (err) {
      if (err instanceof HttpError) {
        status = err.status;
        reason = err.body.error_description;
        return send(res, err.status, err.body, err.headers);
      }
      status = 500;
      reason = err?.name ?? 'error';
      return send(res, 500, { error: 'server_error' });
    } finally {
      log({ method: req.method, path, status, ...(reason ? { reason } : {}) });
    }
  };
}

function send(res, status, body, headers = {}) {
  if (res.headersSent) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

async function main() {
  const issuer = process.env.LATCHKEY_ISSUER ?? 'http://127.0.0.1:3000/demo/';
  const audience = process.env.API_AUDIENCE ?? 'https://api.demo.test';
  const jwksUrl = process.env.JWKS_URL || `${issuer}.well-known/jwks.json`;
  const host = process.env.HOST ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be an integer between 0 and 65535, got ${JSON.stringify(process.env.PORT)}`);
    process.exit(1);
  }
  if (!issuer.endsWith('/')) {
    console.warn(
      `warning: LATCHKEY_ISSUER ${JSON.stringify(issuer)} has no trailing slash; ` +
        'Latchkey issuers end with "/" and the iss claim is compared byte for byte',
    );
  }

  const handler = createApi({
    issuer,
    audience,
    jwksUrl,
    log: (entry) => console.log(JSON.stringify({ time: new Date().toISOString(), ...entry })),
  });
  const server = http.createServer(handler);
  server.on('error', (err) => {
    console.error(`cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    const { port: actual } = server.address();
    const shown = host.includes(':') ? `[${host}]` : host;
    console.log(`example API listening on http://${shown}:${actual}`);
    console.log(`  issuer:   ${issuer}`);
    console.log(`  audience: ${audience}`);
    console.log(`  jwks:     ${jwksUrl}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (isMain()) {
  await main();
}
