/**
 * What client authentication a request carries (RFC 6749 §2.3, RFC 7523,
 * OIDC Core §9), extracted without I/O. Exactly one method per request.
 */
import { InvalidRequestError } from '../../domain/errors.js';
import type { RequestParameters } from '../request-parameters.js';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type PresentedClientAuth =
  | { method: 'client_secret_basic'; clientId: string; secret: string }
  | { method: 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string | undefined; assertion: string }
  | { method: 'none'; clientId: string }
  | { method: 'missing' };

export function presentedClientAuth(authorization: string | undefined, params: RequestParameters): PresentedClientAuth {
  const basic = parseBasic(authorization);
  const bodyClientId = params.get('client_id');
  const secret = params.get('client_secret');
  const assertion = params.get('client_assertion');
  const assertionType = params.get('client_assertion_type');

  const methods = [basic !== undefined, secret !== undefined, assertion !== undefined || assertionType !== undefined].filter(
    Boolean,
  ).length;
  if (methods > 1) throw new InvalidRequestError('The request uses more than one client authentication method; use exactly one.');

  if (basic) {
    if (bodyClientId !== undefined && bodyClientId !== basic.clientId) {
      throw new InvalidRequestError('client_id in the body differs from the client in the Authorization header.');
    }
    return { method: 'client_secret_basic', ...basic };
  }
  if (secret !== undefined) {
    if (bodyClientId === undefined) throw new InvalidRequestError('client_secret was sent without client_id.');
    return { method: 'client_secret_post', clientId: bodyClientId, secret };
  }
  if (assertion !== undefined || assertionType !== undefined) {
    if (assertionType !== JWT_BEARER_ASSERTION_TYPE) {
      throw new InvalidRequestError(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}.`);
    }
    if (assertion === undefined) throw new InvalidRequestError('client_assertion is required with client_assertion_type.');
    return { method: 'private_key_jwt', clientId: bodyClientId, assertion };
  }
  if (bodyClientId !== undefined) return { method: 'none', clientId: bodyClientId };
  return { method: 'missing' };
}

/**
 * HTTP Basic with RFC 6749 §2.3.1's twist: id and secret are each
 * application/x-www-form-urlencoded before base64, so `%3A` is a colon
 * and `+` a space. Returns undefined when the header is not Basic.
 */
function parseBasic(authorization: string | undefined): { clientId: string; secret: string } | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Basic +([A-Za-z0-9+/=._~-]*) *$/i.exec(authorization);
  if (!match) {
    if (/^Basic\b/i.test(authorization)) throw new InvalidRequestError('The Basic Authorization header is malformed.');
    return undefined;
  }
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidRequestError('The Basic Authorization header must carry client_id:client_secret.');
  try {
    const clientId = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (clientId === '') throw new InvalidRequestError('The Basic Authorization header carries an empty client_id.');
    return { clientId, secret };
  } catch (err) {
    if (err instanceof InvalidRequestError) throw err;
    throw new InvalidRequestError('The Basic Authorization credentials are not valid form-urlencoded text (RFC 6749 §2.3.1).');
  }
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}
