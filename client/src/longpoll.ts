/**
 * HTTP long-poll [ap_transport_http_longpoll] as a client Socket, over `fetch` only (Node 20 and
 * browsers; no Node modules, so it stays in the browser bundle):
 * `POST <base>/open` with `{"protocols": [...]}` → `{protocol, transport}`; then
 * `<base>/<id>/receive` held open by the router (200 with one message, 204 when its request timeout
 * passed), `<base>/<id>/send` per message (204), `<base>/<id>/close`. A 404 or 410 on receive means
 * the router ended the transport.
 */
import { REFUSAL_BODY_LIMIT, describeStatus, httpRefusal } from './refusal.js';
import type { Socket, SocketFactory } from './socket.js';

interface OpenReply {
  protocol?: unknown;
  transport?: unknown;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  'wamp.2.json': 'application/json; charset=utf-8',
  'wamp.2.msgpack': 'application/x-msgpack',
  'wamp.2.cbor': 'application/cbor',
};

export function longPollSocketFactory(): SocketFactory {
  return (url, protocols, handlers) => {
    const base = url.replace(/\/+$/, '');
    const abort = new AbortController();
    /** The held receive request is aborted on its own before `close`, so the router never answers it 410. */
    const receiveAbort = new AbortController();
    let closing = false;
    let transportUrl: string | undefined;
    let protocol = '';
    let closed = false;
    /** Sends go out one at a time, in order. */
    let sending: Promise<void> = Promise.resolve();

    const end = (code: number, reason: string): void => {
      if (closed) return;
      closed = true;
      abort.abort();
      receiveAbort.abort();
      handlers.close(code, reason);
    };
    const lost = (detail: string): void => {
      handlers.error(detail);
      end(1006, detail);
    };
    const post = (path: string, body?: string | Uint8Array, signal = abort.signal): Promise<Response> =>
      fetch(path, {
        method: 'POST',
        signal,
        ...(body === undefined ? {} : { body, headers: { 'Content-Type': CONTENT_TYPES[protocol] ?? 'application/json' } }),
      });

    const receiveLoop = async (): Promise<void> => {
      while (!closed && transportUrl !== undefined) {
        const res = await post(`${transportUrl}/receive`, undefined, receiveAbort.signal);
        if (closed || closing) return;
        if (res.status === 204) continue;
        if (res.status !== 200) {
          const words = httpRefusal(res.status, await readBounded(res));
          return end(1006, `long-poll receive answered ${describeStatus(words)}: the router ended the transport`);
        }
        if (protocol === 'wamp.2.json') handlers.message(await res.text());
        else handlers.message(new Uint8Array(await res.arrayBuffer()));
      }
    };

    const opening = async (): Promise<void> => {
      protocol = 'wamp.2.json';
      const res = await post(`${base}/open`, JSON.stringify({ protocols }));
      if (res.status !== 200) {
        handlers.refused(httpRefusal(res.status, await readBounded(res)));
        throw new Error(`long-poll open answered HTTP ${res.status}`);
      }
      const reply = (await res.json()) as OpenReply;
      if (typeof reply.protocol !== 'string' || typeof reply.transport !== 'string') throw new Error('long-poll open reply without protocol and transport');
      protocol = reply.protocol;
      transportUrl = `${base}/${encodeURIComponent(reply.transport)}`;
      if (closed) return;
      handlers.open(protocol);
      await receiveLoop();
    };
    opening().catch((err: unknown) => {
      if (!closed && !closing) lost(err instanceof Error ? err.message : String(err));
    });

    const socket: Socket = {
      send: (data) => {
        if (closed || transportUrl === undefined) return;
        const target = `${transportUrl}/send`;
        sending = sending
          .then(async () => {
            if (closed) return;
            const res = await post(target, data);
            if (res.status !== 204 && res.status !== 200) lost(`long-poll send answered ${describeStatus(httpRefusal(res.status, await readBounded(res)))}`);
            else await res.body?.cancel();
          })
          .catch((err: unknown) => {
            if (!closed) lost(err instanceof Error ? err.message : String(err));
          });
      },
      close: (code, reason) => {
        if (closed || closing) return;
        closing = true;
        receiveAbort.abort();
        const target = transportUrl;
        // Whatever was sent before (a GOODBYE) goes out first; then the router forgets the transport.
        void sending
          .then(async () => {
            if (target === undefined) return;
            const res = await fetch(`${target}/close`, { method: 'POST' });
            await res.body?.cancel();
          })
          .catch(() => {})
          .finally(() => end(code, reason));
      },
    };
    return socket;
  };
}

/** The first REFUSAL_BODY_LIMIT octets of an error answer, as text; the rest is not read. */
async function readBounded(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < REFUSAL_BODY_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } catch {
    // what arrived is what there is
  } finally {
    void reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(bytes.subarray(0, REFUSAL_BODY_LIMIT));
}
