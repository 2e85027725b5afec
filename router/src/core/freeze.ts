/**
 * Deep freezing, for objects the router hands out and shares: an EVENT given to every in-process
 * subscriber of a publication (and holding the payload retained or kept in history), the roles
 * every WELCOME announces. Nobody who gets one can change what the next one gets.
 */

/** Freezes `value` and everything it holds (plain objects and lists; bytes cannot be frozen and are left). */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const item of Object.values(value as Record<string, unknown>)) deepFreeze(item);
  return value;
}
