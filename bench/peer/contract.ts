/**
 * What the bench and its peer process agree on (bench/lib/peer.ts starts
 * bench/peer/server.ts): kept apart from server.ts, which starts serving
 * when imported.
 */

/** The settings file the bench writes for the peer: the client and user the Latchkey bench tenant is seeded with. */
export interface PeerSettings {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly username: string;
  readonly password: string;
}

/** The peer's only route. */
export const PEER_TOKEN_PATH = '/oauth/token';

/** The one line the peer prints on stdout once it serves, followed by its origin. */
export const PEER_READY_PREFIX = 'peer listening on ';
