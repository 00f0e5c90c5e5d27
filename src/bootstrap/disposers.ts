/**
 * What a start (or an admin command) has opened, closed in one place: each
 * resource registers its close as soon as it is open, and both a normal
 * close and a start that fails half-way unwind the same stack, newest
 * first, so nothing is closed twice and nothing opened is forgotten.
 */
type Dispose = () => Promise<void> | void;

export class DisposerStack {
  private readonly stack: Array<{ what: string; dispose: Dispose }> = [];
  private unwinding: Promise<unknown[]> | undefined;

  /**
   * Registers the close of a resource just opened. The returned function
   * closes it now (a lock held for one phase) and takes it off the stack.
   */
  defer(what: string, dispose: Dispose): () => Promise<void> {
    const entry = { what, dispose };
    this.stack.push(entry);
    return async () => {
      const index = this.stack.indexOf(entry);
      if (index < 0) return;
      this.stack.splice(index, 1);
      await entry.dispose();
    };
  }

  /**
   * Closes everything, newest first. Every close runs even when an earlier
   * one fails (a broken Redis connection must not keep the database open);
   * the failures are returned, each named by what it closed. Unwinding twice
   * waits for the first.
   */
  unwind(): Promise<unknown[]> {
    this.unwinding ??= (async () => {
      const failures: unknown[] = [];
      for (let entry = this.stack.pop(); entry !== undefined; entry = this.stack.pop()) {
        const { what, dispose } = entry;
        try {
          await dispose();
        } catch (err) {
          failures.push(new Error(`closing ${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
        }
      }
      return failures;
    })();
    return this.unwinding;
  }

  /** A normal close: unwinds, then reports the first failure, if any. */
  async close(): Promise<void> {
    const [first] = await this.unwind();
    if (first !== undefined) throw first;
  }
}
