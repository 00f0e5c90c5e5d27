/**
 * The in-memory model behind the bench's peer (issue #13): what an
 * `@node-oauth/oauth2-server` 5 deployment would write to serve the same
 * client, user and tokens as the Latchkey bench tenant, kept as lean as
 * such a deployment would be so the comparison is with a fair opponent.
 *
 * Shared state lives in `PeerState`; `RequestModel` is made per request
 * because the library's model methods never see the request, and the
 * access token's `aud` comes from the request's `audience` parameter (or,
 * on a refresh, from the token being redeemed, as Latchkey does).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { hash, verify, type Algorithm, type Options } from '@node-rs/argon2';
import type OAuth2Server from '@node-oauth/oauth2-server';
import { generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { PeerSettings } from './contract.js';

/** Latchkey's default access-token lifetime in the bench config (token_lifetime: 3600). */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 3600;

/** The client grant's scopes, granted when a client_credentials request names none (as Latchkey does). */
const CLIENT_GRANT_SCOPES = ['read:data', 'write:data'];

// `Algorithm` is a `const enum` in @node-rs/argon2's typings but an empty
// object at runtime, and tsx (esbuild) cannot inline ambient const enums
// (bench/lib/raw-rates.ts has the same trap): use the value.
const ARGON2ID: Algorithm = 2;
/** The server's parameters (DESIGN.md §6, OWASP's argon2id profile): the peer must pay what Latchkey pays. */
const ARGON2_OPTIONS: Options = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const ARGON2_PHC_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';

type Client = OAuth2Server.Client;
type User = OAuth2Server.User;
type Token = OAuth2Server.Token;
type RefreshToken = OAuth2Server.RefreshToken;

/** The subject a token is issued for: a user (password and refresh grants) or the client itself. */
interface PeerUser extends User {
  readonly sub: string;
  /** When the user last proved their password: RFC 9068's auth_time, carried along a refresh chain. */
  readonly authTime: number | undefined;
}

/** A live refresh token: deleted when redeemed, so a presented revoked token is simply not found. */
interface StoredRefreshToken extends RefreshToken {
  readonly audience: string | undefined;
}

interface SigningKey {
  readonly privateKey: CryptoKey;
  readonly kid: string;
}

/** Everything the peer keeps, all in memory: one client, one user, one RS256 key, the live refresh tokens. */
export class PeerState {
  readonly client: Client;
  readonly issuer: string;
  private readonly secretDigest: Buffer;
  private readonly username: string;
  private readonly userId: string;
  private readonly passwordHash: string;
  readonly signingKey: SigningKey;
  readonly refreshTokens = new Map<string, StoredRefreshToken>();

  private constructor(settings: PeerSettings, passwordHash: string, signingKey: SigningKey, issuer: string) {
    this.client = { id: settings.clientId, grants: ['password', 'refresh_token', 'client_credentials'] };
    this.secretDigest = sha256(settings.clientSecret);
    this.username = settings.username;
    this.userId = `auth0|${randomBytes(12).toString('hex')}`;
    this.passwordHash = passwordHash;
    this.signingKey = signingKey;
    this.issuer = issuer;
  }

  /** Hashes the password and makes the signing key, as a server would at start (neither is measured). */
  static async create(settings: PeerSettings, issuer: string): Promise<PeerState> {
    const passwordHash = await hash(settings.password, ARGON2_OPTIONS);
    if (!passwordHash.startsWith(ARGON2_PHC_PREFIX)) throw new Error(`unexpected argon2 parameters: ${passwordHash}`);
    const { privateKey } = await generateKeyPair('RS256');
    return new PeerState(settings, passwordHash, { privateKey, kid: randomUUID() }, issuer);
  }

  /** Compares SHA-256 digests, so the comparison is constant-time whatever the presented secret's length. */
  clientSecretMatches(secret: string): boolean {
    return timingSafeEqual(sha256(secret), this.secretDigest);
  }

  /** One argon2id verification (on libuv's pool) for the known user; an unknown name costs nothing (the bench never sends one). */
  async authenticate(username: string, password: string): Promise<PeerUser | undefined> {
    if (username !== this.username) return undefined;
    if (!(await verify(this.passwordHash, password))) return undefined;
    return { sub: this.userId, authTime: Math.floor(Date.now() / 1000) };
  }
}

/**
 * The library's model for one request. Implements the password, refresh
 * and client_credentials models; `getAccessToken` (resource-server side)
 * is never called on the token endpoint.
 */
export class RequestModel implements OAuth2Server.PasswordModel, OAuth2Server.RefreshTokenModel, OAuth2Server.ClientCredentialsModel {
  private readonly state: PeerState;
  /** The `audience` parameter; on a refresh, replaced by the redeemed token's. */
  private audience: string | undefined;

  constructor(state: PeerState, audience: string | undefined) {
    this.state = state;
    this.audience = audience;
  }

  async getClient(clientId: string, clientSecret: string): Promise<Client | undefined> {
    const client = this.state.client;
    if (clientId !== client.id || !this.state.clientSecretMatches(clientSecret)) return undefined;
    return client;
  }

  async getUser(username: string, password: string): Promise<User | undefined> {
    return this.state.authenticate(username, password);
  }

  async getUserFromClient(client: Client): Promise<User> {
    const user: PeerUser = { sub: client.id, authTime: undefined };
    return user;
  }

  /** Accepts what was asked (offline_access included, as the bench's refresh chains ask for it). */
  async validateScope(_user: User, _client: Client, scope?: string[]): Promise<string[]> {
    return scope ?? CLIENT_GRANT_SCOPES;
  }

  /** RFC 9068 access token, the claims and header Latchkey's token service signs (src/tokens/token-service.ts). */
  async generateAccessToken(client: Client, user: User, scope: string[]): Promise<string> {
    // Every User the library hands back was made by this model (getUser, getUserFromClient, a stored refresh token).
    const subject = user as PeerUser;
    const iat = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: this.state.issuer,
      sub: subject.sub,
      aud: this.audience,
      client_id: client.id,
      scope: scope.join(' '),
      iat,
      exp: iat + ACCESS_TOKEN_LIFETIME_SECONDS,
      jti: randomUUID(),
    };
    if (subject.authTime !== undefined) payload.auth_time = subject.authTime;
    const key = this.state.signingKey;
    return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: key.kid }).sign(key.privateKey);
  }

  /** Opaque: 32 random bytes. */
  async generateRefreshToken(): Promise<string> {
    return randomBytes(32).toString('base64url');
  }

  /** Access tokens are self-contained JWTs and are not kept; only a refresh token is stored. */
  async saveToken(token: Token, client: Client, user: User): Promise<Token> {
    if (token.refreshToken !== undefined) {
      this.state.refreshTokens.set(token.refreshToken, {
        refreshToken: token.refreshToken,
        refreshTokenExpiresAt: token.refreshTokenExpiresAt,
        scope: token.scope,
        client,
        user,
        audience: this.audience,
      });
    }
    return { ...token, client, user };
  }

  async getRefreshToken(refreshToken: string): Promise<RefreshToken | undefined> {
    const stored = this.state.refreshTokens.get(refreshToken);
    if (stored !== undefined) this.audience = stored.audience;
    return stored;
  }

  /**
   * Rotation (`alwaysIssueNewRefreshToken`): the redeemed token is deleted.
   * False when it was already gone, so of two concurrent redemptions only
   * the first gets a new token (the library answers invalid_grant).
   */
  async revokeToken(token: RefreshToken): Promise<boolean> {
    return this.state.refreshTokens.delete(token.refreshToken);
  }

  async getAccessToken(): Promise<undefined> {
    return undefined;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
