/**
 * An error as one log phrase: its system code, when it has one, then its
 * message. undici's "fetch failed" keeps the reason in `cause`, so a cause is
 * followed once.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const own = `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`;
  return err.cause instanceof Error ? `${own}: ${describeError(err.cause)}` : own;
}
