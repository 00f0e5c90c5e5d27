/**
 * A Management API endpoint as one value (DESIGN.md §9): Auth0's method and
 * path, the scopes it takes, the zod schemas of its path, query and body,
 * which both validate each request (http/management/index.ts) and describe
 * it in the OpenAPI document (http/management/openapi.ts), and the handler
 * that translates the parsed request to the services. One source for the
 * wire and its description.
 */
import type { z } from 'zod';
import type { ManagementScope } from '../../domain/management-api.js';
import type { Tenant } from '../../domain/tenant.js';
import type { ManagementCaller } from '../../oauth/management/management-caller.js';
import type { RequestOrigin } from '../../protection/end-user-ip.js';

export type ManagementMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface ManagementRequest<Params, Query, Body> {
  tenant: Tenant;
  caller: ManagementCaller;
  params: Params;
  query: Query;
  body: Body;
  origin: RequestOrigin;
  /** The raw request, only for bodies zod does not parse (a multipart upload, http/management/jobs.ts). */
  raw: unknown;
}

export interface ManagementResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The object a write acted on, for its security event when the path names none (a create). */
  target?: string;
}

export interface ResponseDescription {
  description: string;
  /** The JSON body; absent for 204 and for answers without one. */
  schema?: z.ZodType;
}

export interface ManagementEndpoint<Params = unknown, Query = unknown, Body = unknown> {
  method: ManagementMethod;
  /** Auth0's path under /api/v2, OpenAPI style: `/users/{id}`. */
  path: string;
  operationId: string;
  /** Auth0's group name (`users`, `clients`, …), the OpenAPI tag. */
  tag: string;
  summary: string;
  /** Any one of these is enough (Auth0's "expected any of"). */
  scopes: readonly ManagementScope[];
  params?: z.ZodType<Params>;
  query?: z.ZodType<Query>;
  /** JSON body; `multipart` for an upload the handler reads from `raw` (described by `multipartBody`). */
  body?: z.ZodType<Body>;
  multipartBody?: z.ZodType;
  responses: Record<number, ResponseDescription>;
  handle(request: ManagementRequest<Params, Query, Body>): Promise<ManagementResponse>;
}

/** Keeps the schemas' types flowing into the handler, and erases them for the list every endpoint goes into. */
export function defineEndpoint<Params = Record<string, never>, Query = Record<string, never>, Body = undefined>(
  endpoint: ManagementEndpoint<Params, Query, Body>,
): ManagementEndpoint {
  return endpoint as unknown as ManagementEndpoint;
}
