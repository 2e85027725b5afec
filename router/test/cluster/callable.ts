/**
 * Calls until a procedure answers: a registration made on another node is callable once this
 * node learnt it from the bucket (until then: wamp.error.no_such_procedure, retried; any other
 * error, or `ms` passed, is thrown).
 */
import type { Session } from '@switchboard/client';
import { WampError } from '@switchboard/client';

export async function callable(session: Session, procedure: string, args: unknown[] = [], ms = 5000): Promise<unknown> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await session.call(procedure, args);
    } catch (err) {
      if (!(err instanceof WampError) || err.uri !== 'wamp.error.no_such_procedure' || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
