/**
 * Byte arrays for assembled frames: Node's pooled `Buffer.allocUnsafe` where it exists (a fresh
 * Uint8Array costs a backing store of its own: about five times slower for a 100-byte EVENT), a
 * plain Uint8Array in browsers. Callers write every byte before handing the array out.
 */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafe(size: number): Uint8Array } }).Buffer;

export const allocate: (size: number) => Uint8Array = NodeBuffer !== undefined ? (size) => NodeBuffer.allocUnsafe(size) : (size) => new Uint8Array(size);
