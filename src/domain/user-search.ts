/**
 * The `q` of the Management API's `GET /users` (DESIGN.md §9), read as a
 * small subset of Auth0's Lucene-style user search: `email:"a@b.c"`,
 * `username:alice`, `name:jo*`, `email:*@example.com`, `name:*ann*`, or
 * plain text. Plain text matches the start of the email, username or name
 * (Auth0 matches whole words of those fields; a prefix is what an index
 * serves on both engines). Anything this grammar does not know (`AND`,
 * ranges, other fields, unbalanced quotes) is plain text too, so no query is
 * refused and none reaches SQL as text: the store binds every value.
 *
 * Values are compared by loginKey (NFKC, lower case), as logins are.
 */
import { loginKey } from './login-key.js';

export type UserSearchField = 'email' | 'username' | 'name';

/** Auth0 answers at most 1,000 users to a search, and pages stop there; so does Latchkey, so a search stays a bounded read. */
export const USER_SEARCH_LIMIT = 1000;

/** exact: the whole value; prefix: `value*`; suffix: `*value`; contains: `*value*`. */
export type UserSearchMatch = 'exact' | 'prefix' | 'suffix' | 'contains';

export interface UserSearch {
  /** The fields any of which may match. */
  fields: readonly UserSearchField[];
  match: UserSearchMatch;
  /** Normalised by loginKey; never empty. */
  value: string;
}

const ALL_FIELDS: readonly UserSearchField[] = ['email', 'username', 'name'];
const FIELD_TERM = /^(email|username|name):(.+)$/s;

/** The search a `q` asks for; undefined when it asks for none (empty, or only wildcards and quotes). */
export function parseUserSearch(q: string): UserSearch | undefined {
  const text = q.trim();
  const term = FIELD_TERM.exec(text);
  if (term) {
    const field = term[1] as UserSearchField;
    const quoted = unquote(term[2] as string);
    // A quoted value is a phrase: its `*` are characters, as in Lucene.
    if (quoted !== undefined) return quoted.trim() === '' ? undefined : { fields: [field], match: 'exact', value: loginKey(quoted) };
    // `name:*` (Lucene: has a name) narrows nothing here: every user is listed.
    const search = withWildcards(term[2] as string, 'exact');
    return search && { fields: [field], ...search };
  }
  const phrase = unquote(text);
  if (phrase !== undefined) return phrase.trim() === '' ? undefined : { fields: ALL_FIELDS, match: 'prefix', value: loginKey(phrase) };
  const search = withWildcards(text, 'prefix');
  return search && { fields: ALL_FIELDS, ...search };
}

/** The text between a leading and a trailing double quote (`\"` stands for a quote); undefined if not so quoted. */
function unquote(value: string): string | undefined {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return undefined;
  const inner = value.slice(1, -1);
  // An unescaped quote inside means this was not one phrase (`"a" OR "b"`): plain text.
  if (/(^|[^\\])"/.test(inner)) return undefined;
  return inner.replaceAll('\\"', '"');
}

/** A leading and a trailing `*` choose the match; `*` elsewhere is a character. */
function withWildcards(value: string, bare: UserSearchMatch): Omit<UserSearch, 'fields'> | undefined {
  const leading = value.startsWith('*');
  const trailing = value.length > 1 && value.endsWith('*');
  const core = value.slice(leading ? 1 : 0, trailing ? -1 : undefined).trim();
  if (core === '' || /^\*+$/.test(core)) return undefined;
  const match: UserSearchMatch = leading && trailing ? 'contains' : leading ? 'suffix' : trailing ? 'prefix' : bare;
  return { match, value: loginKey(core) };
}

/** The end of the code-point range of keys that start with `prefix`: its last code point, plus one. */
export function prefixRangeEnd(prefix: string): string | undefined {
  const points = [...prefix];
  const last = points.pop()?.codePointAt(0);
  if (last === undefined || last >= 0x10ffff) return undefined;
  // The surrogate block holds no characters a string can carry alone: step over it.
  const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
  return points.join('') + String.fromCodePoint(next);
}

/** `value` as a LIKE pattern's literal part, with `\` as the escape character. */
export function likeLiteral(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
