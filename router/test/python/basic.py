#!/usr/bin/python3
"""
Interop probe: an autobahn-python (asyncio) session against a Switchboard router.

Usage: basic.py URL SERIALIZER [TIMEOUT_S]
  URL         ws://host:port/ws
  SERIALIZER  json | msgpack | cbor

Run with Debian's /usr/bin/python3 and python3-autobahn, python3-cbor2, python3-msgpack.

It joins realm1 and checks, in order:
  1. its own RPC: register com.interop.py.mul, call it (args and kwargs both ways);
  2. its own pub/sub: subscribe, publish with acknowledge and exclude_me=False, receive the event;
  3. procedures of the Node-side autobahn-js peer: com.interop.node.echo (a payload with bytes,
     unicode and integers to 2^53 comes back equal), com.interop.node.fail (its application
     error URI, args and kwargs), com.interop.node.publish_to (the peer publishes to a topic this
     session subscribed, the event arrives), com.interop.node.call_back (the peer calls
     com.interop.py.mul and returns what it got);
  4. GOODBYE, and the router's GOODBYE reply.

It prints one JSON line ({"ok": true, "results": {...}} or {"ok": false, "error": "..."}) and
exits 0 only if every check passed; 1 on a failed check, 2 on bad usage, 3 when autobahn (or the
serializer's library) cannot be imported. Every wait is bounded; the whole run by TIMEOUT_S.
"""
import asyncio
import base64
import sys

from common import SERIALIZERS, bounded, check, run_checks  # first: it reports a missing autobahn

from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallResult, ComponentConfig, PublishOptions, SubscribeOptions
from autobahn.websocket.util import parse_url

# What this session publishes to itself; integers to 2^53, unicode beyond the BMP, bytes, nesting.
OWN_EVENT_ARGS = [1, 'two', 2 ** 53, -(2 ** 53), 'ünïcödé 🐍 𝄞', {'nested': {'deep': [1, 2, {'x': None}]}}]
OWN_EVENT_KWARGS = {'big': 2 ** 53, 'blob': bytes(range(256)), 'text': 'Straße', 'empty': {}, 'flag': True}
ECHO_ARGS = [b'\x00\x01\x02\xfd\xfe\xff', 'ü', 2 ** 53, -(2 ** 31) - 1, 0.5, [None, True, False]]
ECHO_KWARGS = {'blob': b'\xff' * 3, 'deep': {'a': {'b': {'c': 'd'}}}, 'n': 2 ** 40}


def jsonable(value):
    """Results as JSON: bytes become {"$bytes": base64}."""
    if isinstance(value, (bytes, bytearray)):
        return {'$bytes': base64.b64encode(bytes(value)).decode('ascii')}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class Probe(ApplicationSession):
    def __init__(self, config, serializer_name):
        super().__init__(config)
        self.serializer_name = serializer_name
        loop = asyncio.get_running_loop()
        self.started_at = loop.time()
        self.joined = loop.create_future()
        self.outcome = loop.create_future()
        self.left = loop.create_future()
        self.disconnected = loop.create_future()

    # ---- lifecycle ----------------------------------------------------------------------------

    async def onJoin(self, details):
        if not self.joined.done():
            self.joined.set_result(details)
        try:
            results = await self.run_checks(details)
        except BaseException as exc:  # report every failure, including cancellation
            if not self.outcome.done():
                self.outcome.set_exception(exc)
            return
        if not self.outcome.done():
            self.outcome.set_result(results)

    def onLeave(self, details):
        if not self.left.done():
            self.left.set_result(details)
        if not self.joined.done():
            self.joined.set_exception(AssertionError(f'left before joining: {details.reason} {details.message}'))
        super().onLeave(details)

    def onDisconnect(self):
        if not self.disconnected.done():
            self.disconnected.set_result(True)
        for future in (self.joined, self.outcome, self.left):
            if not future.done():
                future.set_exception(AssertionError('transport lost'))

    # ---- the checks ---------------------------------------------------------------------------

    async def run_checks(self, welcome):
        results = {'serializer': self.serializer_name, 'session': welcome.session, 'realm': welcome.realm}
        loop = asyncio.get_running_loop()

        # 1. Own RPC.
        def mul(a, b, **kwargs):
            return CallResult(a * b, **{'echo': kwargs, 'product_of': [a, b]})

        await bounded(self.register(mul, 'com.interop.py.mul'), 'REGISTERED com.interop.py.mul')
        own = await bounded(self.call('com.interop.py.mul', 6, 7, tag='ü', big=2 ** 53), 'RESULT of com.interop.py.mul')
        check(isinstance(own, CallResult), f'own call returned {own!r}')
        check(list(own.results) == [42], f'own call results {own.results!r}')
        check(own.kwresults == {'echo': {'tag': 'ü', 'big': 2 ** 53}, 'product_of': [6, 7]}, f'own call kwresults {own.kwresults!r}')
        results['own_call'] = {'args': jsonable(own.results), 'kwargs': jsonable(own.kwresults)}

        # 2. Own pub/sub, exclude_me=False so the event comes back to this session.
        own_events = asyncio.Queue()

        def on_own(*args, details=None, **kwargs):
            own_events.put_nowait((list(args), kwargs, details.publication))

        await bounded(self.subscribe(on_own, 'com.interop.py.topic', options=SubscribeOptions(details=True)), 'SUBSCRIBED com.interop.py.topic')
        publication = await bounded(
            self.publish('com.interop.py.topic', *OWN_EVENT_ARGS, options=PublishOptions(acknowledge=True, exclude_me=False), **OWN_EVENT_KWARGS),
            'PUBLISHED for com.interop.py.topic',
        )
        args, kwargs, publication_id = await bounded(own_events.get(), 'own EVENT on com.interop.py.topic')
        check(args == OWN_EVENT_ARGS, f'own event args {args!r}')
        check(kwargs == OWN_EVENT_KWARGS, f'own event kwargs {kwargs!r}')
        check(publication_id == publication.id, f'event publication {publication_id} != PUBLISHED {publication.id}')
        results['own_event'] = {'args': jsonable(args), 'kwargs': jsonable(kwargs), 'publication': publication.id}

        # 3a. The Node peer's echo: bytes, unicode and big integers survive two hops.
        echoed = await bounded(self.call('com.interop.node.echo', *ECHO_ARGS, **ECHO_KWARGS), 'RESULT of com.interop.node.echo')
        check(isinstance(echoed, CallResult), f'echo returned {echoed!r}')
        check(list(echoed.results) == ECHO_ARGS, f'echo results {echoed.results!r}')
        check(echoed.kwresults == ECHO_KWARGS, f'echo kwresults {echoed.kwresults!r}')
        results['node_echo'] = {'args': jsonable(list(echoed.results)), 'kwargs': jsonable(echoed.kwresults)}

        # 3b. The Node peer's application error, exactly.
        try:
            await bounded(self.call('com.interop.node.fail', 'why'), 'ERROR of com.interop.node.fail')
        except ApplicationError as err:
            results['node_error'] = {'error': err.error, 'args': jsonable(list(err.args)), 'kwargs': jsonable(err.kwargs)}
        else:
            raise AssertionError('com.interop.node.fail did not fail')

        # 3c. An event published by the Node peer.
        node_events = asyncio.Queue()

        def on_node(*args, **kwargs):
            node_events.put_nowait((list(args), kwargs))

        await bounded(self.subscribe(on_node, 'com.interop.py.fromnode'), 'SUBSCRIBED com.interop.py.fromnode')
        node_publication = await bounded(self.call('com.interop.node.publish_to', 'com.interop.py.fromnode'), 'RESULT of com.interop.node.publish_to')
        args, kwargs = await bounded(node_events.get(), 'EVENT from the Node peer')
        results['node_event'] = {'args': jsonable(args), 'kwargs': jsonable(kwargs), 'publication': node_publication}

        # 3d. The Node peer calls this session's procedure.
        called_back = await bounded(self.call('com.interop.node.call_back', 'com.interop.py.mul', 3, 5), 'RESULT of com.interop.node.call_back')
        results['node_called_back'] = jsonable(called_back.results if isinstance(called_back, CallResult) else called_back)

        results['elapsed_s'] = round(loop.time() - self.started_at, 3)
        return results


async def main(url, serializer_name, timeout_s):
    loop = asyncio.get_running_loop()
    is_secure, host, port, _resource, _path, _params = parse_url(url)
    check(not is_secure, 'wss:// is not supported by this probe')
    created = loop.create_future()

    def make_session():
        # Called once the WebSocket handshake is done.
        session = Probe(ComponentConfig(realm='realm1'), serializer_name)
        if created.done():
            raise AssertionError('a second session was created')
        created.set_result(session)
        return session

    factory = WampWebSocketClientFactory(make_session, url=url, serializers=[SERIALIZERS[serializer_name]()])
    transport, _protocol = await bounded(loop.create_connection(factory, host, port), f'TCP connect to {host}:{port}')
    try:
        session = await bounded(created, 'the WebSocket handshake')
        await bounded(session.joined, 'WELCOME')
        results = await bounded(asyncio.shield(session.outcome), 'the checks', timeout_s)
        session.leave('wamp.close.normal', 'probe done')
        left = await bounded(session.left, 'the router\'s GOODBYE')
        results['goodbye_reason'] = left.reason
        await bounded(session.disconnected, 'the connection to close')
        return results
    finally:
        transport.close()


if __name__ == '__main__':
    sys.exit(run_checks(__doc__, main))
