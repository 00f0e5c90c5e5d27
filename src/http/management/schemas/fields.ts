/**
 * Auth0's field selection on reads: `fields` (comma-separated) with
 * `include_fields` (true, the default: only these; false: all but these);
 * and the display names clients and APIs share.
 */
import { z } from 'zod';
import { queryBoolean } from './common.js';

export const fieldsQuery = z.object({
  fields: z.string().max(2000).optional().describe('Comma-separated fields to include (or, with `include_fields=false`, to leave out).'),
  include_fields: queryBoolean.default(true).describe('Whether `fields` lists what to include (true) or to leave out (false).'),
});
export type FieldsQuery = z.output<typeof fieldsQuery>;

/** A client's or API's `name`, as Auth0 takes it: not empty, without `<` or `>`. */
export const displayName = z
  .string()
  .min(1)
  .max(256)
  .refine((n) => !/[<>]/.test(n), 'must not contain < or >');

export function projectFields<T extends object>(item: T, query: Partial<FieldsQuery>): Partial<T> {
  if (query.fields === undefined || query.fields.trim() === '') return item;
  const named = new Set(query.fields.split(',').map((f) => f.trim()));
  const include = query.include_fields !== false;
  return Object.fromEntries(Object.entries(item).filter(([key]) => named.has(key) === include)) as Partial<T>;
}
