#!/usr/bin/python3
"""
Interop probe: autobahn-python's end-to-end encrypted payloads (WAMP-cryptobox, payload
transparency) through a Switchboard router.

Usage: e2ee.py URL SERIALIZER [TIMEOUT_S]
  URL         ws://host:port/ws
  SERIALIZER  json | msgpack | cbor

Run with Debian's /usr/bin/python3 and python3-autobahn, python3-nacl (PyNaCl), python3-cbor2,
python3-msgpack.

Two sessions join realm1, each with a cryptobox KeyRing for the URIs under `com.e2ee`: the
originator (publisher, caller) holds its private key and the responder's public key, the
responder (subscriber, callee) the reverse. autobahn-python then sends, for those URIs, the
payload encrypted as one binary in place of the Arguments list, with `enc_algo: "cryptobox"` and
`enc_serializer: "json"` in Options/Details (JSON peers write the binary as "\\0" + base64). The
router cannot read it and must pass it on as it is:

  1. PUBLISH → EVENT: the responder decrypts the event's args and kwargs;
  2. CALL → INVOCATION → YIELD → RESULT: the callee decrypts the call, its encrypted result is
     decrypted by the caller;
  3. CALL → INVOCATION → ERROR → ERROR: the callee's application error, encrypted, reaches the
     caller with its URI, args and kwargs;
  4. beside them, a publication to com.plain.topic (no key covers it) travels unencrypted.

It prints one JSON line ({"ok": true, "results": {...}} or {"ok": false, "error": "..."}) and
exits 0 only if every check passed; 1 on a failed check, 2 on bad usage, 3 when autobahn, PyNaCl
or the serializer's library cannot be imported. Every wait is bounded; the whole run by TIMEOUT_S.
"""
import asyncio
import sys

from common import EXIT_MISSING, SERIALIZERS, bounded, check, emit, run_checks  # first: it reports a missing autobahn

from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallResult, ComponentConfig, PublishOptions, RegisterOptions, SubscribeOptions
from autobahn.websocket.util import parse_url

try:
    import nacl  # noqa: F401  (autobahn's cryptobox needs PyNaCl)
    from autobahn.wamp.cryptobox import Key, KeyRing
except ImportError as exc:  # pragma: no cover
    emit({'ok': False, 'error': f'cannot import autobahn.wamp.cryptobox: {exc} (install python3-nacl)'})
    sys.exit(EXIT_MISSING)

PREFIX = 'com.e2ee'
TOPIC = 'com.e2ee.topic'
ECHO = 'com.e2ee.echo'
FAIL = 'com.e2ee.fail'
PLAIN_TOPIC = 'com.plain.topic'

EVENT_ARGS = ['secret', 2 ** 53, 'ünïcödé 🐍', {'nested': [1, None, True]}]
EVENT_KWARGS = {'key': 'value', 'n': 7}


class Peer(ApplicationSession):
    def __init__(self, config, keyring):
        super().__init__(config)
        loop = asyncio.get_running_loop()
        self.set_payload_codec(keyring)
        self.joined = loop.create_future()
        self.left = loop.create_future()
        self.disconnected = loop.create_future()

    async def onJoin(self, details):
        if not self.joined.done():
            self.joined.set_result(details)

    def onLeave(self, details):
        if not self.left.done():
            self.left.set_result(details)
        self.disconnect()

    def onDisconnect(self):
        if not self.disconnected.done():
            self.disconnected.set_result(True)


async def connect(loop, url, serializer_name, keyring):
    _secure, host, port, _resource, _path, _params = parse_url(url)
    created = loop.create_future()

    def make_session():
        session = Peer(ComponentConfig(realm='realm1'), keyring)
        created.set_result(session)
        return session

    factory = WampWebSocketClientFactory(make_session, url=url, serializers=[SERIALIZERS[serializer_name]()])
    transport, _protocol = await bounded(loop.create_connection(factory, host, port), f'TCP connect to {host}:{port}')
    session = await bounded(created, 'the WebSocket handshake')
    await bounded(session.joined, 'WELCOME')
    return transport, session


async def main(url, serializer_name, timeout_s):
    loop = asyncio.get_running_loop()
    keys = KeyRing()
    originator_priv, originator_pub = keys.generate_key()
    responder_priv, responder_pub = keys.generate_key()
    originator_ring = KeyRing()
    originator_ring.set_key(PREFIX, Key(originator_priv=originator_priv, responder_pub=responder_pub))
    responder_ring = KeyRing()
    responder_ring.set_key(PREFIX, Key(responder_priv=responder_priv, originator_pub=originator_pub))

    transports = []
    try:
        t1, responder = await connect(loop, url, serializer_name, responder_ring)
        transports.append(t1)
        t2, originator = await connect(loop, url, serializer_name, originator_ring)
        transports.append(t2)
        results = {'serializer': serializer_name}

        events = asyncio.Queue()

        def on_event(*args, details=None, **kwargs):
            events.put_nowait({'args': list(args), 'kwargs': kwargs, 'enc_algo': getattr(details, 'enc_algo', None), 'topic': details.topic if details else None})

        await bounded(responder.subscribe(on_event, TOPIC, options=SubscribeOptions(details_arg='details')), 'SUBSCRIBED (encrypted topic)')
        await bounded(responder.subscribe(on_event, PLAIN_TOPIC, options=SubscribeOptions(details_arg='details')), 'SUBSCRIBED (plain topic)')

        invocations = []

        def echo(*args, details=None, **kwargs):
            invocations.append({'args': list(args), 'kwargs': kwargs, 'enc_algo': getattr(details, 'enc_algo', None)})
            return CallResult(*args, reply='encrypted too', **kwargs)

        def fail(*args, **kwargs):
            raise ApplicationError('com.e2ee.error.refused', 'secret reason', *args, code=7, **kwargs)

        await bounded(responder.register(echo, ECHO, options=RegisterOptions(details_arg='details')), 'REGISTERED echo')
        await bounded(responder.register(fail, FAIL), 'REGISTERED fail')

        # 1. PUBLISH → EVENT, encrypted; then a plain one.
        await bounded(originator.publish(TOPIC, *EVENT_ARGS, options=PublishOptions(acknowledge=True), **EVENT_KWARGS), 'PUBLISHED (encrypted)')
        results['event'] = await bounded(events.get(), 'the encrypted EVENT')
        await bounded(originator.publish(PLAIN_TOPIC, 'plain', options=PublishOptions(acknowledge=True)), 'PUBLISHED (plain)')
        results['plain_event'] = await bounded(events.get(), 'the plain EVENT')

        # 2. CALL → INVOCATION → YIELD → RESULT, encrypted both ways.
        result = await bounded(originator.call(ECHO, 'hello', 2 ** 40, tag='ü'), 'RESULT of echo')
        check(isinstance(result, CallResult), f'echo returned {result!r}, not a CallResult')
        results['invocation'] = invocations[0] if invocations else None
        results['result'] = {'args': list(result.results), 'kwargs': result.kwresults, 'enc_algo': getattr(result, 'enc_algo', None)}

        # 3. CALL → INVOCATION → ERROR → ERROR, encrypted.
        try:
            await bounded(originator.call(FAIL, 'why'), 'ERROR of fail')
            raise AssertionError('com.e2ee.fail returned instead of failing')
        except ApplicationError as err:
            results['error'] = {'uri': err.error, 'args': list(err.args), 'kwargs': err.kwargs, 'enc_algo': err.enc_algo}

        for session in (originator, responder):
            session.leave('wamp.close.normal', 'probe done')
            await bounded(session.left, "the router's GOODBYE")
        return results
    finally:
        for transport in transports:
            transport.close()


if __name__ == '__main__':
    sys.exit(run_checks(__doc__, main))
