"""
Shared by the authentication probes (cryptosign.py, scram.py): output, bounded waits, and one
session that joins once, records WELCOME or ABORT, leaves and disconnects. Run with Debian's
/usr/bin/python3 and python3-autobahn; imported from the probe's own folder.
"""
import asyncio
import json
import sys
import traceback

EXIT_FAILED, EXIT_USAGE, EXIT_MISSING = 1, 2, 3
STEP_TIMEOUT_S = 5.0


def emit(obj):
    print(json.dumps(obj, sort_keys=True, ensure_ascii=False), flush=True)


try:
    import txaio
    txaio.use_asyncio()
    from autobahn.asyncio.wamp import ApplicationSession
    from autobahn.asyncio.websocket import WampWebSocketClientFactory
    from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
    from autobahn.wamp.types import ComponentConfig
    from autobahn.websocket.util import parse_url
except ImportError as exc:  # pragma: no cover - exercised only on a machine without the packages
    emit({'ok': False, 'error': f'cannot import autobahn: {exc} (install python3-autobahn)'})
    sys.exit(EXIT_MISSING)

SERIALIZERS = {'json': JsonSerializer, 'msgpack': MsgPackSerializer, 'cbor': CBORSerializer}


async def bounded(awaitable, what, timeout=STEP_TIMEOUT_S):
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f'timed out after {timeout} s waiting for {what}') from None


class AuthProbe(ApplicationSession):
    """A session that reports how its one join ended: `outcome` is {'joined': …} or {'aborted': …}."""

    def __init__(self, config):
        super().__init__(config)
        loop = asyncio.get_running_loop()
        self.outcome = loop.create_future()
        self.left = loop.create_future()
        self.disconnected = loop.create_future()

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


async def join_once(url, serializer_name, make_session):
    """Connects, lets the session built by make_session(config) join realm1, leaves after a WELCOME;
    returns (session, outcome)."""
    loop = asyncio.get_running_loop()
    is_secure, host, port, _resource, _path, _params = parse_url(url)
    if is_secure:
        raise AssertionError('wss:// is not supported by this probe')
    created = loop.create_future()

    def factory_session():
        session = make_session(ComponentConfig(realm='realm1'))
        created.set_result(session)
        return session

    factory = WampWebSocketClientFactory(factory_session, url=url, serializers=[SERIALIZERS[serializer_name]()])
    transport, _protocol = await bounded(loop.create_connection(factory, host, port), f'TCP connect to {host}:{port}')
    try:
        session = await bounded(created, 'the WebSocket handshake')
        result = await bounded(asyncio.shield(session.outcome), 'WELCOME or ABORT')
        if 'joined' in result:
            session.leave('wamp.close.normal', 'probe done')
            await bounded(session.left, "the router's GOODBYE")
        await bounded(session.disconnected, 'the connection to close')
        return session, result
    finally:
        transport.close()


def run_probe(serializer_name, timeout_s, probe):
    """Runs the coroutine probe() within timeout_s and prints its result as one JSON line."""
    try:
        SERIALIZERS[serializer_name]()
    except Exception as exc:
        emit({'ok': False, 'error': f'serializer {serializer_name} unavailable: {exc}'})
        return EXIT_MISSING
    try:
        result = asyncio.run(asyncio.wait_for(probe(), timeout_s))
    except BaseException as exc:
        traceback.print_exc(file=sys.stderr)
        emit({'ok': False, 'error': f'{type(exc).__name__}: {exc}'})
        return EXIT_FAILED
    emit({'ok': True, **result})
    return 0
