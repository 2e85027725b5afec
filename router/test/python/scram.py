#!/usr/bin/python3
"""
Interop probe: autobahn-python (asyncio) authenticating to a Switchboard router with WAMP-SCRAM.

Usage: scram.py URL SERIALIZER AUTHID PASSWORD [TIMEOUT_S]
       scram.py --derive AUTHID PASSWORD SALT_HEX
  URL         ws://host:port/ws
  SERIALIZER  json | msgpack | cbor
  AUTHID      the authid to join as
  PASSWORD    the password autobahn.wamp.auth.AuthScram derives its keys from

Run with Debian's /usr/bin/python3 and python3-autobahn, python3-argon2, python3-passlib,
python3-cbor2, python3-msgpack.

It joins realm1 with authmethods ['scram'] and AuthScram's authextra (the client nonce), answers
the CHALLENGE with AuthScram.on_challenge and checks WELCOME.authextra.scram_server_signature with
AuthScram.on_welcome (a bad one makes autobahn ABORT with wamp.error.cannot_authenticate). It prints
one JSON line:
  {"ok": true, "joined": {realm, authid, authrole, authmethod, authprovider}, "server_verified": true}
  after WELCOME (then GOODBYE), or {"ok": true, "aborted": {"reason": ..., "message": ...}} when
  the router refused, or {"ok": false, "error": "..."}.
With --derive it prints autobahn's derive_scram_credential(AUTHID, PASSWORD, salt) (argon2id-13,
4096 iterations, 512 KiB) as one JSON line.
Exit 0 for either outcome (the test decides which it expected), 1 on an error, 2 on bad usage,
3 when autobahn (or argon2-cffi, passlib, the serializer's library) cannot be imported. Every wait
is bounded.
"""
import asyncio
import binascii
import json
import sys
import traceback

EXIT_FAILED, EXIT_USAGE, EXIT_MISSING = 1, 2, 3


def emit(obj):
    print(json.dumps(obj, sort_keys=True, ensure_ascii=False), flush=True)


try:
    import txaio
    txaio.use_asyncio()
    from autobahn.asyncio.wamp import ApplicationSession
    from autobahn.asyncio.websocket import WampWebSocketClientFactory
    from autobahn.wamp import auth as wamp_auth
    from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
    from autobahn.wamp.types import ComponentConfig
    from autobahn.websocket.util import parse_url
    if not wamp_auth.HAS_ARGON:
        raise ImportError('autobahn has no WAMP-SCRAM support: argon2-cffi or passlib is missing (install python3-argon2 python3-passlib)')
except ImportError as exc:  # pragma: no cover - exercised only on a machine without the packages
    emit({'ok': False, 'error': f'cannot import autobahn with SCRAM support: {exc}'})
    sys.exit(EXIT_MISSING)

SERIALIZERS = {'json': JsonSerializer, 'msgpack': MsgPackSerializer, 'cbor': CBORSerializer}
STEP_TIMEOUT_S = 5.0


async def bounded(awaitable, what, timeout=STEP_TIMEOUT_S):
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f'timed out after {timeout} s waiting for {what}') from None


class Scrammer(ApplicationSession):
    def __init__(self, config, authid, password):
        super().__init__(config)
        self.scram = wamp_auth.AuthScram(authid=authid, password=password)
        self.wanted_authid = authid
        self.server_verified = None
        loop = asyncio.get_running_loop()
        self.outcome = loop.create_future()
        self.left = loop.create_future()
        self.disconnected = loop.create_future()

    def onConnect(self):
        self.join(self.config.realm, authmethods=['scram'], authid=self.wanted_authid, authextra=self.scram.authextra)

    def onChallenge(self, challenge):
        if challenge.method != 'scram':
            raise Exception(f'unexpected authmethod {challenge.method}')
        return self.scram.on_challenge(self, challenge)

    def onWelcome(self, msg):
        # None accepts the WELCOME; a string makes autobahn ABORT (the server signature was wrong).
        refusal = self.scram.on_welcome(self, msg.authextra or {})
        self.server_verified = refusal is None
        return refusal

    def onJoin(self, details):
        if not self.outcome.done():
            self.outcome.set_result({'joined': {
                'realm': details.realm, 'authid': details.authid, 'authrole': details.authrole,
                'authmethod': details.authmethod, 'authprovider': details.authprovider,
            }})

    def onLeave(self, details):
        # Before WELCOME this is the router's ABORT.
        if not self.outcome.done():
            self.outcome.set_result({'aborted': {'reason': details.reason, 'message': details.message}})
        if not self.left.done():
            self.left.set_result(details)
        self.disconnect()

    def onDisconnect(self):
        if not self.outcome.done():
            self.outcome.set_exception(AssertionError('disconnected without WELCOME or ABORT'))
        if not self.disconnected.done():
            self.disconnected.set_result(True)


async def main(url, serializer_name, authid, password):
    loop = asyncio.get_running_loop()
    is_secure, host, port, _resource, _path, _params = parse_url(url)
    if is_secure:
        raise AssertionError('wss:// is not supported by this probe')
    created = loop.create_future()

    def make_session():
        session = Scrammer(ComponentConfig(realm='realm1'), authid, password)
        created.set_result(session)
        return session

    factory = WampWebSocketClientFactory(make_session, url=url, serializers=[SERIALIZERS[serializer_name]()])
    transport, _protocol = await bounded(loop.create_connection(factory, host, port), f'TCP connect to {host}:{port}')
    try:
        session = await bounded(created, 'the WebSocket handshake')
        result = await bounded(asyncio.shield(session.outcome), 'WELCOME or ABORT')
        if 'joined' in result:
            session.leave('wamp.close.normal', 'probe done')
            await bounded(session.left, "the router's GOODBYE")
        await bounded(session.disconnected, 'the connection to close')
        result['server_verified'] = session.server_verified
        return result
    finally:
        transport.close()


def run():
    if len(sys.argv) == 5 and sys.argv[1] == '--derive':
        emit(wamp_auth.derive_scram_credential(sys.argv[2], sys.argv[3], binascii.a2b_hex(sys.argv[4])))
        return 0
    if len(sys.argv) not in (5, 6) or sys.argv[2] not in SERIALIZERS:
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE
    url, serializer_name, authid, password = sys.argv[1:5]
    timeout_s = float(sys.argv[5]) if len(sys.argv) == 6 else 15.0
    try:
        SERIALIZERS[serializer_name]()
    except Exception as exc:
        emit({'ok': False, 'error': f'serializer {serializer_name} unavailable: {exc}'})
        return EXIT_MISSING
    try:
        result = asyncio.run(asyncio.wait_for(main(url, serializer_name, authid, password), timeout_s))
    except BaseException as exc:
        traceback.print_exc(file=sys.stderr)
        emit({'ok': False, 'error': f'{type(exc).__name__}: {exc}'})
        return EXIT_FAILED
    emit({'ok': True, **result})
    return 0


if __name__ == '__main__':
    sys.exit(run())
