"""
Shared by the authentication probes (cryptosign.py, scram.py, tlsauth.py): one session that joins
once, records WELCOME or ABORT, leaves and disconnects (output, bounded waits and the runner are
common.py's). Run with Debian's /usr/bin/python3 and python3-autobahn; imported from the probe's
own folder.
"""
import asyncio

from common import SERIALIZERS, bounded  # first: it reports a missing autobahn

from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.types import ComponentConfig
from autobahn.websocket.util import parse_url


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
