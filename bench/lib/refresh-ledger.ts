/**
 * Every refresh token the chains of one scenario run were handed and
 * presented, whichever node answered. Rotation promises that a token is
 * redeemed at most once and that every token handed out is new; across
 * nodes that rests on the shared database alone, so the bench checks it on
 * every request instead of trusting it:
 *
 * - a token value handed out twice (by the same or another node), or
 * - a 200 for a token that had already been presented
 *
 * is a double spend. The load itself presents each token once, so the
 * second case can only show if a chain were made to re-present (a retry
 * after a lost answer does not: the user starts a new chain instead); the
 * concurrent-reuse race is the multi-node tests' job (issue #6 §3). What the
 * load does prove is the first case under real cross-node rotation.
 */
export class RefreshLedger {
  private readonly received = new Set<string>();
  private readonly presented = new Set<string>();
  private doubleSpent = 0;

  /** Records a presentation; true when the token was presented before, so a 200 for it is a double spend. */
  present(token: string): boolean {
    if (this.presented.has(token)) return true;
    this.presented.add(token);
    return false;
  }

  /** Records a token handed out (by a refresh or by the password grant that starts a chain); false if it was handed out before. */
  receive(token: string): boolean {
    if (this.received.has(token)) {
      this.doubleSpent += 1;
      return false;
    }
    this.received.add(token);
    return true;
  }

  /** A 200 answered a re-presented token. */
  acceptedAgain(): void {
    this.doubleSpent += 1;
  }

  get doubleSpentTokens(): number {
    return this.doubleSpent;
  }
}
