/**
 * Body parsing for the OAuth endpoints: form (RFC 6749) and JSON (Auth0),
 * kept as raw values so the OAuth layer can reject repeated parameters,
 * which Fastify's usual parsers would silently merge.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../domain/errors.js';
import { RequestParameters } from '../oauth/request-parameters.js';

export type RawBody = { kind: 'form'; text: string } | { kind: 'json'; value: unknown; text: string };

export const BODY_LIMIT_BYTES = 64 * 1024;

export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    done(null, { kind: 'form', text: body as string } satisfies RawBody);
  });
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    // No body at all under a JSON content type (Auth0 SDKs send `Content-Type: application/json` on GET/DELETE) is no body.
    if (body === '') return done(null, undefined);
    try {
      done(null, { kind: 'json', value: JSON.parse(body as string) as unknown, text: body as string } satisfies RawBody);
    } catch {
      done(new InvalidRequestError('The request body is not valid JSON.'), undefined);
    }
  });
}

/**
 * The request's parameters from its body; the query string is not part of
 * an OAuth request (DESIGN.md §3). No body at all is an empty request, which
 * then fails on its first required parameter.
 */
export function bodyParameters(request: FastifyRequest, options: { allowJson: boolean; listKeys?: readonly string[] }): RequestParameters {
  const raw = request.body as RawBody | undefined | null;
  if (raw === undefined || raw === null) return RequestParameters.empty();
  if (raw.kind === 'form') return RequestParameters.fromForm(raw.text);
  if (!options.allowJson) throw new InvalidRequestError('This endpoint takes application/x-www-form-urlencoded bodies only.');
  return RequestParameters.fromJson(raw.value, raw.text, { listKeys: options.listKeys });
}
