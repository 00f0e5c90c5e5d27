/**
 * Schemas every Management API group shares: Auth0's paging (`page`,
 * `per_page` at most 100, `include_totals`, `take`), boolean query
 * strings, and the error body. Query values arrive as text.
 */
import { z } from 'zod';

/** Auth0 caps a page at 100 items; more is a 400, never a silent cap. */
export const MAX_PER_PAGE = 100;
export const DEFAULT_PER_PAGE = 50;

/** `true` / `false` as query strings spell them. */
export const queryBoolean = z.enum(['true', 'false']).transform((v) => v === 'true');

export const paginationQuery = z.object({
  page: z.coerce.number().int().min(0).max(1_000_000).default(0).describe('Page index, from 0.'),
  per_page: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PER_PAGE)
    .optional()
    .describe(`Items per page, at most ${MAX_PER_PAGE}; ${DEFAULT_PER_PAGE} when absent.`),
  include_totals: queryBoolean.default(false).describe('Answer `{start, limit, length, total, <items>}` instead of the bare array.'),
  take: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PER_PAGE)
    .optional()
    .describe('Checkpoint paging as Auth0 spells it: the number of items, used when `per_page` is absent.'),
});
export type PaginationQuery = z.output<typeof paginationQuery>;

/** `take` stands in for `per_page` where Auth0 uses checkpoint paging. */
export interface Page {
  page: number;
  perPage: number;
  includeTotals: boolean;
}

export function pageOf(query: PaginationQuery): Page {
  return { page: query.page, perPage: query.per_page ?? query.take ?? DEFAULT_PER_PAGE, includeTotals: query.include_totals };
}

/** The rows a page covers, for a store's `offset`/`limit`. */
export function offsetOf(page: Page): { offset: number; limit: number } {
  return { offset: page.page * page.perPage, limit: page.perPage };
}

/** The bare array, or Auth0's totals envelope with `start = page × per_page`. */
export function listReply<T>(key: string, items: T[], page: Page, total: number): unknown {
  if (!page.includeTotals) return items;
  return { start: page.page * page.perPage, limit: page.perPage, length: items.length, total, [key]: items };
}

/** The OpenAPI description of a list: the bare array or the totals envelope. */
export function listSchema<T extends z.ZodType>(key: string, item: T): z.ZodType {
  return z.union([
    z.array(item),
    z.object({ start: z.number().int(), limit: z.number().int(), length: z.number().int(), total: z.number().int(), [key]: z.array(item) }),
  ]);
}

export const managementErrorSchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    message: z.string(),
    errorCode: z.string(),
  })
  .meta({ id: 'Error' });
