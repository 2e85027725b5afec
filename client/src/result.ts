/**
 * Multi-valued results. A handler's plain return value becomes the single positional result
 * (`YIELD [value]`); to answer with several positional results or keyword results, return a `Result`.
 */
import type { Dict } from '@switchboard/schemas/core';

export class Result<A extends unknown[] = unknown[], K extends Dict = Dict> {
  constructor(
    readonly args: A = [] as unknown[] as A,
    readonly kwargs: K = {} as K,
  ) {}
}

/** Everything a RESULT carried; `value` is its first positional result. */
export interface CallResult<R = unknown> {
  value: R;
  args: unknown[];
  kwargs: Dict;
  details: Dict;
}
