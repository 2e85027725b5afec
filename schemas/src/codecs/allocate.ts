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

/** A string's UTF-8 bytes. */
export const utf8Bytes: (text: string) => Uint8Array = NodeBuffer !== undefined ? (text) => NodeBuffer.from(text, 'utf8') : (text) => textEncoder.encode(text);
