/**
 * Byte arrays for assembled frames: Node's pooled `Buffer` where it exists (a fresh Uint8Array
 * costs a backing store of its own: about five times slower for a 100-byte EVENT), plain
 * Uint8Array and TextEncoder in browsers. Callers write every byte of an allocated array before
 * handing it out.
 */
interface NodeBufferStatics {
  allocUnsafe(size: number): Uint8Array;
  from(text: string, encoding: 'utf8'): Uint8Array;
}

const NodeBuffer = (globalThis as { Buffer?: NodeBufferStatics }).Buffer;
const textEncoder = new TextEncoder();

export const allocate: (size: number) => Uint8Array = NodeBuffer !== undefined ? (size) => NodeBuffer.allocUnsafe(size) : (size) => new Uint8Array(size);

/**
 * Bytes that may be kept for a while (a payload passed through: queued for a slow receiver, kept
 * for a resume, retained): `bytes` itself while it is at least half of the buffer it is a view of,
 * else a copy of its own. A view pins its whole buffer — a socket read may hold many messages —
 * so without this a small payload could hold a large read alive, past every byte limit, which
 * count the payload.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.buffer.byteLength > 2 * bytes.byteLength ? new Uint8Array(bytes) : bytes;
}

/** A string's UTF-8 bytes. */
export const utf8Bytes: (text: string) => Uint8Array = NodeBuffer !== undefined ? (text) => NodeBuffer.from(text, 'utf8') : (text) => textEncoder.encode(text);
