/**
 * A call whose progressive results arrive as an async iterator; `result` holds the final RESULT.
 * The iterator ends when the final result arrives, and throws when the call fails.
 */
import type { Dict } from '@switchboard/schemas/core';
import { AsyncQueue } from './queue.js';
import type { CallResult } from './result.js';

/** One chunk of a progressive call invocation's input. */
export interface InputChunk<A extends unknown[] = unknown[], K = Dict> {
  args: A;
  kwargs: K;
}

export interface ProgressMessage<P extends unknown[] = unknown[]> {
  args: P;
  kwargs: Dict;
  details: Dict;
}

export class ProgressiveCall<P extends unknown[] = unknown[], R = unknown> implements AsyncIterable<ProgressMessage<P>> {
  readonly result: Promise<CallResult<R>>;
  readonly #queue = new AsyncQueue<ProgressMessage<P>>();

  /** @internal `start` makes the call, handing each progressive result to the callback it gets. */
  constructor(start: (onProgress: (args: P, kwargs: Dict, details: Dict) => void) => Promise<CallResult<R>>) {
    this.result = start((args, kwargs, details) => this.#queue.push({ args, kwargs, details }));
    this.result.then(
      () => this.#queue.end(),
      (err: unknown) => this.#queue.end(err instanceof Error ? err : new Error(String(err))),
    );
  }

  [Symbol.asyncIterator](): AsyncIterator<ProgressMessage<P>> {
    return this.#queue;
  }
}

/** How a CallInput puts chunks on the wire (the session's side). */
export interface CallInputSink {
  /** Sends a chunk; `last` ends the input. Throws when the call can take no more. */
  send(args: unknown[] | undefined, kwargs: Dict | undefined, last: boolean): void;
}

/**
 * A call whose arguments are sent in chunks (progressive call invocations): `send()` each chunk,
 * `end()` the last one. Progressive results arrive through the async iterator; `result` holds the
 * final RESULT. [ap_rpc_progressive_call_invocations]
 */
export class CallInput<A extends unknown[] = unknown[], K = Dict, P extends unknown[] = unknown[], R = unknown> implements AsyncIterable<ProgressMessage<P>> {
  readonly result: Promise<CallResult<R>>;
  readonly #queue = new AsyncQueue<ProgressMessage<P>>();
  #ended = false;
  #sink!: CallInputSink;
  #resolve!: (result: CallResult<R>) => void;
  #reject!: (error: Error) => void;

  /** @internal created by Session.callWithInput */
  constructor(connect: (input: CallInput<A, K, P, R>) => CallInputSink) {
    this.result = new Promise<CallResult<R>>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.result.then(
      () => this.#queue.end(),
      (err: unknown) => this.#queue.end(err instanceof Error ? err : new Error(String(err))),
    );
    this.#sink = connect(this);
  }

  /** Sends one more chunk of input. Throws once the input has ended or the call is over. */
  send(args?: A, kwargs?: K): void {
    if (this.#ended) throw new Error('the input of this call has ended');
    this.#sink.send(args, kwargs as Dict | undefined, false);
  }

  /** Sends the last chunk (optionally with a payload) and resolves to the result. */
  end(args?: A, kwargs?: K): Promise<CallResult<R>> {
    if (!this.#ended) {
      this.#ended = true;
      try {
        this.#sink.send(args, kwargs as Dict | undefined, true);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return this.result;
  }

  [Symbol.asyncIterator](): AsyncIterator<ProgressMessage<P>> {
    return this.#queue;
  }

  /** @internal */
  progress(args: P, kwargs: Dict, details: Dict): void {
    this.#queue.push({ args, kwargs, details });
  }

  /** @internal */
  settle(result: CallResult<R>): void {
    this.#ended = true;
    this.#resolve(result);
  }

  /** @internal */
  fail(error: Error): void {
    this.#ended = true;
    this.#reject(error);
  }
}
