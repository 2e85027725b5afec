/**
 * TLS channel IDs for WAMP-Cryptosign channel binding: 32 bytes that both ends of one TLS
 * connection compute alike and a man in the middle (two TLS connections) cannot make equal.
 * [ap_authentication_cryptosign: TLS Channel Binding]
 *
 * - `tls-unique` (RFC 5929, TLS ≤ 1.2): the first Finished message of the handshake, the client's
 *   (which the server reads with getPeerFinished), hashed with SHA-256 to 32 bytes as
 *   autobahn-python's `transport_channel_id` does. Undefined for TLS 1.3 (RFC 9266 §1).
 * - `tls-exporter` (RFC 9266, TLS 1.3): 32 bytes of keying material exported with the label
 *   EXPORTER-Channel-Binding and no context.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ChannelBindingType } from './peer.js';

/**
 * The channel IDs of an established TLS connection. `side` is which end we are: tls-unique is the
 * client's Finished, which a server reads as its peer's.
 */
export function tlsChannelBindings(socket: TLSSocket, side: 'server' | 'client' = 'server'): Partial<Record<ChannelBindingType, Uint8Array>> {
  const out: Partial<Record<ChannelBindingType, Uint8Array>> = {};
  const protocol = socket.getProtocol();
  if (protocol !== null && protocol !== 'TLSv1.3') {
    const finished = side === 'server' ? socket.getPeerFinished() : socket.getFinished();
    if (finished !== undefined) out['tls-unique'] = createHash('sha256').update(finished).digest();
  }
  if (protocol === 'TLSv1.3') {
    // In TLS 1.3 an empty context is the same as none (RFC 8446 §7.5). RFC 9266 allows TLS 1.2
    // only with extended master secret, which node:tls cannot tell us about: not offered there.
    out['tls-exporter'] = socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  }
  return out;
}

/** The channel IDs of a server-side connection, or undefined when it is not TLS. */
export function channelBindingsOf(socket: Socket): Partial<Record<ChannelBindingType, Uint8Array>> | undefined {
  return socket instanceof TLSSocket ? tlsChannelBindings(socket, 'server') : undefined;
}
