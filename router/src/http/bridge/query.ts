/**
 * Query strings as Crossbar (Twisted) reads them: `+` is a space, `%XX` an octet, the first of
 * repeated names wins, blank values are kept. Values stay bytes, since a signature is computed over
 * the URL-decoded octets. [Crossbar: request.args]
 */
export type Query = ReadonlyMap<string, Buffer>;

const HEX = /^[0-9a-fA-F]{2}$/;

function decode(part: string): Buffer {
  const text = part.includes('+') ? part.replace(/\+/g, ' ') : part;
  if (!text.includes('%')) return Buffer.from(text, 'utf8');
  // Percent-decoding only shrinks the text; other characters keep their UTF-8 octets.
  const out = Buffer.allocUnsafe(Buffer.byteLength(text, 'utf8'));
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && HEX.test(text.slice(i + 1, i + 3))) {
      out[n++] = parseInt(text.slice(i + 1, i + 3), 16);
      i += 2;
    } else if (c < 0x80) out[n++] = c;
    else {
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      n += out.write(ch, n, 'utf8');
      i += ch.length - 1;
    }
  }
  return out.subarray(0, n);
}

export function parseQuery(url: string | undefined): Query {
  const query = new Map<string, Buffer>();
  const q = url?.indexOf('?') ?? -1;
  if (url === undefined || q === -1) return query;
  for (const pair of url.slice(q + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decode(eq === -1 ? pair : pair.slice(0, eq)).toString('utf8');
    if (query.has(name)) continue;
    // A name without '=' has a blank value (parse_qs with keep_blank_values).
    query.set(name, eq === -1 ? Buffer.alloc(0) : decode(pair.slice(eq + 1)));
  }
  return query;
}

export function queryText(query: Query, name: string): string | undefined {
  return query.get(name)?.toString('utf8');
}
