/** Raw TCP: writes chunks as given (optionally dripped), then waits, bounded, for the server to close. */
import { connect } from 'node:net';

export interface TcpOptions {
  /** Delay between chunks (a slow-drip sender); 0: all at once. */
  dripMs?: number;
  /** How long to wait for the server after the last chunk before closing. */
  lingerMs?: number;
  /** Stop reading (and close) once this many bytes came back. */
  maxReadBytes?: number;
}

export function runTcp(port: number, chunks: readonly Uint8Array[], options: TcpOptions = {}): Promise<void> {
  return new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let done = false;
    let read = 0;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      socket.destroy();
      resolve();
    };
    // A frame that promises more than it sends leaves the connection open: give up after a while.
    const overall = setTimeout(finish, options.dripMs ? 5000 : 1000);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', (d: Buffer) => {
      read += d.length;
      if (read > (options.maxReadBytes ?? 1 << 20)) finish();
    });
    socket.on('connect', () => {
      const drip = options.dripMs ?? 0;
      let i = 0;
      const step = (): void => {
        if (done) return;
        if (drip === 0) {
          for (const c of chunks) socket.write(c);
          i = chunks.length;
        } else if (i < chunks.length) {
          socket.write(chunks[i++]!);
          setTimeout(step, drip);
          return;
        }
        setTimeout(() => socket.end(), options.lingerMs ?? 20);
      };
      step();
    });
  });
}
