// Which WebSocket the dashboard connects to: its own router's, nothing else. The page sends the
// admin's ticket there, so a link with ?ws=wss://elsewhere/ must not send it to another host
// (issue #14). Default: /ws on the page's own host; ?ws= may name another path on it
// (?ws=/wamp) or a ws:/wss: URL of that same host.

/**
 * @param {{ protocol: string, host: string }} location the page's location
 * @param {string | null} requested the ?ws= parameter, if any
 * @returns {string} the WebSocket URL to connect to
 * @throws {Error} when `requested` points at another host or is not a WebSocket URL
 */
export function wampUrl(location, requested) {
  const own = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  if (requested === null || requested === '') return `${own}/ws`;
  let url;
  try {
    // A path resolves against the page's own host; "//host/…" and "/\host/…" name another host.
    url = new URL(requested, `${own}/`);
  } catch {
    throw new Error(`?ws=${requested} is not a URL`);
  }
  if ((url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.host !== location.host) {
    throw new Error(`?ws=${requested} refused: the dashboard only connects to its own router (${own})`);
  }
  return url.href;
}
