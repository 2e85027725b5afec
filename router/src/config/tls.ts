/**
 * TLS material for a listener (WebSocket or RawSocket): reads the PEM files a config names and
 * checks that they make a usable server context, so a bad path or a key that does not match its
 * certificate is a config error naming the field and the file, not a stack trace at start.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from './config.js';
import type { TlsFile } from './config.js';

/** What `node:tls` needs for a server. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer[];
  /** Request a client certificate and refuse the connection unless it verifies. */
  requestCert: boolean;
  /** With requestCert: whether a connection without a verified certificate is refused (default: requestCert). */
  rejectUnauthorized?: boolean;
}

/**
 * Reads the files of one `tls` block; `pointer` is its JSON pointer (e.g. `/listeners/0/tls`).
 * Every unreadable file is reported, then whether the certificate and key fit together.
 */
export function loadTls(tls: TlsFile, pointer: string, source = 'config'): TlsCredentials {
  const problems: string[] = [];
  const read = (path: string, at: string): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (err) {
      problems.push(`${pointer}/${at}: cannot read ${path}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const cert = read(tls.cert, 'cert');
  const key = read(tls.key, 'key');
  const caFiles = tls.ca === undefined ? [] : typeof tls.ca === 'string' ? [tls.ca] : tls.ca;
  const ca = caFiles.map((path, i) => read(path, typeof tls.ca === 'string' ? 'ca' : `ca/${i}`));
  if (problems.length > 0 || cert === undefined || key === undefined) throw new ConfigError(source, problems);
  const credentials: TlsCredentials = { cert, key, requestCert: tls.requestCert === true || tls.clientCertificates !== undefined };
  if (tls.clientCertificates === 'request' && tls.requestCert !== true) credentials.rejectUnauthorized = false;
  if (caFiles.length > 0) credentials.ca = ca.filter((b): b is Buffer => b !== undefined);
  try {
    // Parses both PEMs and checks that the key belongs to the certificate.
    createSecureContext({ cert, key, ...(credentials.ca !== undefined ? { ca: credentials.ca } : {}) });
  } catch (err) {
    throw new ConfigError(source, [`${pointer}: '${tls.cert}' and '${tls.key}' do not make a TLS server: ${(err as Error).message}`]);
  }
  return credentials;
}

/** Every problem with the TLS files of a config's listeners (for `switchboard check`); [] when all load. */
export function tlsProblems(listeners: readonly { tls?: TlsFile }[] | undefined): string[] {
  const problems: string[] = [];
  (listeners ?? []).forEach((listener, i) => {
    if (listener.tls === undefined) return;
    try {
      loadTls(listener.tls, `/listeners/${i}/tls`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  });
  return problems;
}
