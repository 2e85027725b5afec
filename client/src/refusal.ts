/**
 * A refusal: the router (or a proxy in front of it) answered, and said no before any WAMP was
 * spoken: an HTTP status for a WebSocket upgrade or a long-poll open, an error code in the RawSocket
 * handshake. The router's own words travel with it, bounded and in plain text (whoever answered is
 * not trusted: an HTML error page, a megabyte of body, control characters).
 */

/** What the router answered instead of opening the transport. */
export interface Refusal {
  /** The HTTP status of a refused WebSocket upgrade or long-poll open. */
  status?: number;
  /** The RawSocket handshake error: 1 serializer unsupported, 2 maximum length unacceptable, 3 reserved bits, 4 connection count. */
  rawSocketError?: number;
  /** The router's words: the `error` of its JSON body, else the body as text; the meaning of a RawSocket error. */
  message: string;
}

/** Octets of an error body read at most; the rest is not read. */
export const REFUSAL_BODY_LIMIT = 4096;
/** Characters of the router's words kept in a Refusal. */
const MESSAGE_LIMIT = 300;

export const RAWSOCKET_HANDSHAKE_ERRORS: Readonly<Record<number, string>> = {
  1: 'serializer unsupported',
  2: 'maximum message length unacceptable',
  3: 'use of reserved bits (unsupported feature)',
  4: 'maximum connection count reached',
};

/** The names of the statuses a router or proxy refuses with most (the router's words follow anyway). */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/**
 * Refusals that asking again cannot change: the URL, the Origin, the serializers or the handshake
 * are wrong (400 401 403 404 405 410 426; RawSocket 1 2 3). Too many connections (429, RawSocket
 * 4), a router starting or stopping (503), a proxy's 5xx may pass.
 */
export function isPermanentRefusal(refusal: Refusal): boolean {
  if (refusal.rawSocketError !== undefined) return refusal.rawSocketError !== 4;
  const status = refusal.status ?? 0;
  return [400, 401, 403, 404, 405, 410, 426].includes(status);
}

/** The refusal of an HTTP answer: the router's JSON `{error}`, else the body as plain text. */
export function httpRefusal(status: number, body: string): Refusal {
  // The readers cut the octets already; this is the one gate for any caller that did not.
  return { status, message: wordsOf(body.length > REFUSAL_BODY_LIMIT ? body.slice(0, REFUSAL_BODY_LIMIT) : body) };
}

export function rawSocketRefusal(code: number): Refusal {
  return { rawSocketError: code, message: RAWSOCKET_HANDSHAKE_ERRORS[code] ?? `error ${code}` };
}

/** One sentence: `the router refused the WebSocket: HTTP 404 Not Found: no WebSocket endpoint at /wamp`. */
export function describeRefusal(what: string, refusal: Refusal): string {
  if (refusal.rawSocketError !== undefined) return `the router refused the ${what} handshake: error ${refusal.rawSocketError}, ${refusal.message}`;
  return `the router refused the ${what}: ${describeStatus(refusal)}`;
}

/** `HTTP 410 Gone: long-poll transport expired` (the status, its name, the router's words). */
export function describeStatus(refusal: Refusal): string {
  const status = refusal.status ?? 0;
  const text = STATUS_TEXT[status];
  return `HTTP ${status}${text !== undefined ? ` ${text}` : ''}${refusal.message !== '' ? `: ${refusal.message}` : ''}`;
}

function wordsOf(body: string): string {
  let text = body;
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string')
        text = (parsed as { error: string }).error;
    } catch {
      // not JSON after all (or cut at the body limit): shown as text
    }
  } else if (/^<(!doctype|html|head|body)/i.test(trimmed)) {
    text = stripMarkup(trimmed);
  }
  text = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > MESSAGE_LIMIT ? `${text.slice(0, MESSAGE_LIMIT)}…` : text;
}

/**
 * The text of an HTML page: tags (and what `<script>`/`<style>` hold) become spaces. Linear in the
 * length whatever the input: a tag is `<[^<>]*>` (a stray `<` stays text), and a script or style
 * runs to its closing tag found by one forward search (to the end when there is none).
 */
export function stripMarkup(html: string): string {
  const lower = html.toLowerCase();
  const opening = /<(script|style)\b/g;
  let out = '';
  let at = 0;
  for (;;) {
    opening.lastIndex = at;
    const open = opening.exec(lower);
    if (open === null) break;
    out += `${html.slice(at, open.index)} `;
    const close = lower.indexOf(`</${open[1]!}`, open.index + open[0].length);
    if (close === -1) {
      at = html.length;
      break;
    }
    const end = lower.indexOf('>', close);
    at = end === -1 ? html.length : end + 1;
  }
  out += html.slice(at);
  return out.replace(/<[^<>]*>/g, ' ');
}
