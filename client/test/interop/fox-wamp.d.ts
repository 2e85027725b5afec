// fox-wamp ships no typings; these cover what the interop test uses.
declare module 'fox-wamp' {
  import type { WebSocketServer } from 'ws';

  export default class FoxRouter {
    /** A ws.Server for WAMP over JSON; options go to ws (`host`, `port`, `path`). */
    listenWAMP(options: { host?: string; port: number; path?: string }): WebSocketServer;
  }
}
