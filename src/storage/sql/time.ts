/** Instants as ISO-8601 UTC text: fixed width, so text order is time order on every engine. */
export const toIso = (date: Date): string => date.toISOString();
export const fromIso = (text: string): Date => new Date(text);
export const fromIsoOrNull = (text: string | null): Date | null => (text === null ? null : new Date(text));
