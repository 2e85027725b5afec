/**
 * What the JSON Schema cannot say about a listener's `auth` block: that it accepts at least one
 * method, that the realms it names exist, and that no cryptosign key belongs to two principals
 * (the key alone must tell who connects). One line per problem, each naming its field.
 */

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const METHODS = ['anonymous', 'ticket', 'wampcra', 'cryptosign', 'scram', 'wamp-scram', 'tls', 'cookie'] as const;

/** `auth` is the block as written (unchecked), `at` its JSON pointer, `realms` the configured realm names. */
export function authProblems(auth: unknown, at: string, realms: ReadonlySet<string>): string[] {
  if (!isRecord(auth)) return [];
  const problems: string[] = [];
  if (!METHODS.some((m) => auth[m] !== undefined)) {
    problems.push(`${at}: names no authentication method (${METHODS.join(', ')}), so no session could join`);
  }
  const realm = (value: unknown, pointer: string): void => {
    if (typeof value === 'string' && !realms.has(value)) problems.push(`${pointer}: no realm named '${value}' is configured`);
  };
  if (isRecord(auth['anonymous'])) realm(auth['anonymous']['realm'], `${at}/anonymous/realm`);
  if (isRecord(auth['tls']) && isRecord(auth['tls']['cn'])) realm(auth['tls']['cn']['realm'], `${at}/tls/cn/realm`);
  for (const method of ['ticket', 'wampcra', 'cryptosign', 'scram', 'wamp-scram', 'tls'] as const) {
    const block = auth[method];
    if (!isRecord(block)) continue;
    realm(block['authenticator-realm'], `${at}/${method}/authenticator-realm`);
    const entries = block[method === 'wampcra' ? 'users' : 'principals'];
    if (!isRecord(entries)) continue;
    const field = method === 'wampcra' ? 'users' : 'principals';
    const owner = new Map<string, string>();
    for (const [authid, principal] of Object.entries(entries)) {
      if (!isRecord(principal)) continue;
      const pointer = `${at}/${method}/${field}/${pointerEscape(authid)}`;
      realm(principal['realm'], `${pointer}/realm`);
      if (method !== 'cryptosign' || !Array.isArray(principal['authorized_keys'])) continue;
      for (const key of principal['authorized_keys']) {
        if (typeof key !== 'string') continue;
        const other = owner.get(key.toLowerCase());
        if (other !== undefined && other !== authid)
          problems.push(`${pointer}/authorized_keys: key ${key} also belongs to '${other}'; a key must name one principal`);
        owner.set(key.toLowerCase(), authid);
      }
    }
  }
  return problems;
}

/**
 * What the `tls` and `cookie` methods need of their listener (`listener` as written, `at` its
 * pointer): tls a TLS listener that asks for client certificates against a `ca`; cookie a
 * WebSocket listener (cookie tracking is an HTTP thing).
 */
export function listenerAuthProblems(listener: Record<string, unknown>, at: string): string[] {
  const problems: string[] = [];
  const tls = listener['tls'];
  if (isRecord(tls) && tls['clientCertificates'] !== undefined && tls['ca'] === undefined) {
    problems.push(`${at}/tls/ca: required with clientCertificates: the CA that client certificates must chain to`);
  }
  const auth = listener['auth'];
  if (!isRecord(auth)) return problems;
  if (auth['tls'] !== undefined && !(isRecord(tls) && (tls['clientCertificates'] !== undefined || tls['requestCert'] === true))) {
    problems.push(
      `${at}/auth/tls: needs a TLS listener that asks for client certificates (set ${at}/tls with ca and clientCertificates "request" or "require")`,
    );
  }
  if (auth['cookie'] !== undefined && listener['type'] !== 'websocket') {
    problems.push(`${at}/auth/cookie: cookie authentication needs a websocket listener (cookies travel in the HTTP upgrade)`);
  }
  return problems;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
function pointerEscape(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}
