/**
 * Objects created through the Management API are held to the rules of the
 * configuration file's schema (config/schema.ts): one set of rules for both,
 * so what a start would refuse in the file the API refuses too.
 */
import type { z } from 'zod';
import { badRequest } from '../../domain/management-errors.js';

/**
 * Parses `input` with the file's schema; a refusal is Auth0's 400
 * invalid_body naming the property, spelled as the API spells it
 * (`apiNames` maps the file's keys that the API names otherwise).
 */
export function parseByFileRules<S extends z.ZodType>(schema: S, input: z.input<S>, apiNames: Record<string, string> = {}): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = (issue?.path ?? []).map((part) => apiNames[String(part)] ?? String(part)).join('.');
  throw badRequest(`Payload validation error: '${issue?.message ?? 'invalid'}'${path === '' ? '' : ` on property ${path}`}.`);
}
