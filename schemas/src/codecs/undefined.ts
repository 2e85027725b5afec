/**
 * `undefined` is not in the data model, yet JavaScript clients write it for options left unset
 * (wampy: CBOR's simple value 23, and msgpackr's fixext 1 of type 0 over MessagePack). It is read
 * as JSON.stringify reads it — a dict entry holding it is absent, a list element is null — so that
 * every serializer relays the same payload (msgpackr would write it back as an extension other
 * MessagePack peers refuse). Only frames whose scan saw one are walked; their depth is bounded.
 */
export function withoutUndefined(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = withoutUndefined(value[i]);
    return value;
  }
  const dict = value as Record<string, unknown>;
  for (const key of Object.keys(dict)) {
    if (dict[key] === undefined) delete dict[key];
    else dict[key] = withoutUndefined(dict[key]);
  }
  return dict;
}
