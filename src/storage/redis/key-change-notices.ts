/**
 * Signing-key changes, announced to every node (Redis pub/sub) so their JWKS
 * and signing keys change at once rather than at the next 10-second re-read.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ChangeNotices } from './change-notices.js';

export class KeyChangeNotices extends ChangeNotices {
  constructor(redis: Redis, logger: Logger) {
    super(redis, logger, { name: 'latchkey:signing-keys-changed', fallback: 'running nodes pick key changes up within 10 s' });
  }
}

/**
 * Catalog changes made through the Management API (applications, APIs,
 * client grants), announced so every node reloads its catalog at once
 * (DESIGN.md §9): a deleted application is refused everywhere, a new one
 * works on every node.
 */
export class CatalogChangeNotices extends ChangeNotices {
  constructor(redis: Redis, logger: Logger) {
    super(redis, logger, {
      name: 'latchkey:catalog-changed',
      fallback: 'other nodes pick Management API changes up at their next periodic catalog re-read',
    });
  }
}
