/**
 * Auth0's user_metadata and app_metadata: JSON objects of the
 * application's choosing. A PATCH merges at the top level: each key given
 * replaces that key (objects included, as Auth0 does: no deep merge), and a
 * key set to null is removed; `{}` leaves the object as it was.
 */
import type { UserMetadata } from '../storage/stores.js';

/** Auth0's limit for user_metadata; app_metadata gets the same here. */
export const MAX_METADATA_BYTES = 16 * 1024;

export function mergeMetadata(current: UserMetadata, patch: Readonly<Record<string, unknown>>): UserMetadata {
  // Through a Map and Object.fromEntries: a key named `__proto__` stays an own property, never a prototype.
  const merged = new Map(Object.entries(current));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, value);
  }
  return Object.fromEntries(merged);
}

/** Whether the object's JSON fits the limit (counted in UTF-8 bytes, as stored). */
export function metadataFits(metadata: UserMetadata): boolean {
  return Buffer.byteLength(JSON.stringify(metadata), 'utf8') <= MAX_METADATA_BYTES;
}
