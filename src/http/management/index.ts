/**
 * The Management API at /T/api/v2/ (DESIGN.md §9): every endpoint value
 * (http/management/endpoint.ts) becomes one Fastify route that checks the
 * caller (oauth/management/management-caller.ts), spends its budget, checks
 * the scope, validates params, query and body with the endpoint's own
 * schemas, runs the handler and, for a write, records who did what. The
 * OpenAPI document is generated once from the same list. Errors take
 * Auth0's shape in one place (reply.ts), also for unknown paths below the base.
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ManagementApiError } from '../../domain/management-errors.js';
import type { Catalog } from '../../domain/tenant.js';
import { ManagementCallers } from '../../oauth/management/management-caller.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import type { RawBody } from '../body.js';
import { requestOrigin } from '../request-origin.js';
import { tenantOf } from '../tenant.js';
import type { ManagementEndpoint, ManagementResponse } from './endpoint.js';
import { managementOpenApiDocument } from './openapi.js';
import { managementErrorReply, validationError, type RequestPart } from './reply.js';

export interface ManagementRoutesDeps {
  catalog: Catalog;
  callers: Pick<ManagementCallers, 'authenticate' | 'spend'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
  endpoints: readonly ManagementEndpoint[];
}

/** Auth0's base below the tenant, `{issuer}api/v2/`: the prefix this plugin is registered under (its own 404 answers there). */
export const MANAGEMENT_API_PREFIX = '/:tenant/api/v2';

export const managementRoutes: FastifyPluginAsync<ManagementRoutesDeps> = async (app, deps) => {
  const { catalog, endpoints } = deps;

  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  // multipart/form-data for the one upload (http/management/jobs.ts), which passes its own limits when it reads.
  await app.register(multipart);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new ManagementApiError(404, 'not_found', 'Not Found: no Management API endpoint answers this method at this path.'),
      request,
      reply,
    ),
  );

  // The document is public, as Auth0's is: it describes the API, and holds nothing of the tenant's data.
  const documents = new Map<string, Record<string, unknown>>();
  app.get('/openapi.json', async (request, reply) => {
    const tenant = tenantOf(request, catalog);
    let document = documents.get(tenant.name);
    if (!document) {
      document = managementOpenApiDocument(endpoints, tenant.endpoints.managementApi.replace(/\/$/, ''));
      documents.set(tenant.name, document);
    }
    return reply.header('cache-control', 'no-cache').send(document);
  });

  for (const endpoint of endpoints) {
    app.route({
      method: endpoint.method,
      url: endpoint.path.replace(/\{(\w+)\}/g, ':$1'),
      handler: async (request, reply) => {
        const response = await serve(endpoint, request, deps);
        reply.header('cache-control', 'no-store');
        if (response.headers) reply.headers(response.headers);
        reply.code(response.status);
        return response.body === undefined ? reply.send() : reply.send(response.body);
      },
    });
  }
};

async function serve(endpoint: ManagementEndpoint, request: FastifyRequest, deps: ManagementRoutesDeps): Promise<ManagementResponse> {
  const tenant = tenantOf(request, deps.catalog);
  const caller = await deps.callers.authenticate(tenant, request.headers.authorization);
  await deps.callers.spend(tenant, caller);
  ManagementCallers.requireScope(caller, endpoint.scopes);
  const { tenant: _tenant, ...pathParams } = request.params as Record<string, string>;
  const params = parsePart('params', endpoint.params, pathParams);
  const query = parsePart('query', endpoint.query, request.query ?? {});
  const body = endpoint.body ? parsePart('body', endpoint.body, jsonBody(request)) : undefined;
  const origin = requestOrigin(request.raw, tenant);
  const response = await endpoint.handle({ tenant, caller, params, query, body, origin, raw: request });
  if (endpoint.method !== 'GET') {
    const target = (pathParams.id ?? response.target)?.slice(0, 200);
    await deps.securityEvents.record({
      type: 'management_api_write',
      reason: endpoint.operationId,
      tenantId: tenant.id,
      clientId: caller.clientId,
      ...(endpoint.tag === 'users' && target !== undefined ? { userId: target } : {}),
      ip: origin.networkIp(),
      details: { actor: caller.actor, operation: `${endpoint.method} ${endpoint.path}`, ...(target === undefined ? {} : { target }) },
    });
  }
  return response;
}

function parsePart(part: RequestPart, schema: z.ZodType | undefined, value: unknown): unknown {
  if (!schema) return value;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(part, parsed.error);
  return parsed.data;
}

/** The JSON body (body.ts keeps it raw for the OAuth endpoints); a form body is not what this API takes. */
function jsonBody(request: FastifyRequest): unknown {
  const raw = request.body as RawBody | undefined | null;
  if (raw === undefined || raw === null) return {};
  if (raw.kind !== 'json')
    throw new ManagementApiError(400, 'invalid_body', 'The Management API takes JSON bodies (Content-Type: application/json).');
  return raw.value;
}

function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const r = managementErrorReply(err);
  const fields = { route: request.routeOptions.url, status: r.statusCode, error: r.body.errorCode, detail: r.logDetail };
  if (r.statusCode >= 500) {
    request.log.error(
      { ...fields, err: r.cause instanceof Error ? { message: r.cause.message, stack: r.cause.stack } : r.cause },
      'request failed',
    );
  } else {
    request.log.info(fields, 'request refused');
  }
  void reply.code(r.statusCode).headers(r.headers).send(r.body);
}
