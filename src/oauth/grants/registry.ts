/** Wire grant names → grant modules. */
import type { GrantTypeName } from '../../domain/grant-types.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { erase, type AnyGrantHandler } from './grant-handler.js';
import { mfaGrant } from './mfa.js';
import { passwordGrant } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';

const handlers = [erase(passwordGrant), erase(refreshTokenGrant), erase(clientCredentialsGrant), erase(mfaGrant)];

export const grantRegistry: ReadonlyMap<GrantTypeName, AnyGrantHandler> = new Map(
  handlers.flatMap((h) => h.grantTypes.map((name) => [name, h] as const)),
);
