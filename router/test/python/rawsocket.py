#!/usr/bin/python3
"""
Interop probe over WAMP-over-RawSocket: the same checks as basic.py (its Probe session), with
autobahn-python's asyncio RawSocket client instead of WebSocket.

Usage: rawsocket.py URL SERIALIZER [TIMEOUT_S] [CAFILE]
  URL         rs://host:port, rss://host:port (TLS) or rs://unix:/path/to.sock
  SERIALIZER  json | msgpack | cbor
  CAFILE      for rss://: the PEM file of the CA (or self-signed certificate) to trust

Run with Debian's /usr/bin/python3 and python3-autobahn, python3-cbor2, python3-msgpack. Output and
exit codes as basic.py: one JSON line, 0 only if every check passed.
"""
import asyncio
import ssl
import sys

from common import SERIALIZERS, bounded, run_checks  # first: it reports a missing autobahn

from autobahn.asyncio.rawsocket import WampRawSocketClientFactory
from autobahn.rawsocket.util import parse_url
from autobahn.wamp.types import ComponentConfig
from basic import Probe

# autobahn-python 22.x's asyncio RawSocket protocol keeps its TransportDetails in _transport_details
# but lacks the `transport_details` property (ITransport) that the WebSocket one has, and which
# ApplicationSession reads on WELCOME; without it every RawSocket session dies on joining.
if not hasattr(WampRawSocketClientFactory.protocol, 'transport_details'):
    WampRawSocketClientFactory.protocol.transport_details = property(lambda self: self._transport_details)


async def main(url, serializer_name, timeout_s, cafile=None):
    loop = asyncio.get_running_loop()
    is_secure, host, where = parse_url(url)
    created = loop.create_future()

    def make_session():
        # Called once the RawSocket handshake is done.
        session = Probe(ComponentConfig(realm='realm1'), serializer_name)
        if created.done():
            raise AssertionError('a second session was created')
        created.set_result(session)
        return session

    factory = WampRawSocketClientFactory(make_session, serializer=SERIALIZERS[serializer_name]())
    if host == 'unix':
        connecting = loop.create_unix_connection(factory, where)
    else:
        context = None
        if is_secure:
            context = ssl.create_default_context(cafile=cafile)
        connecting = loop.create_connection(factory, host, where, ssl=context, server_hostname='localhost' if is_secure else None)
    transport, _protocol = await bounded(connecting, f'connect to {url}')
    try:
        session = await bounded(created, 'the RawSocket handshake')
        await bounded(session.joined, 'WELCOME')
        results = await bounded(asyncio.shield(session.outcome), 'the checks', timeout_s)
        session.leave('wamp.close.normal', 'probe done')
        left = await bounded(session.left, 'the router\'s GOODBYE')
        results['goodbye_reason'] = left.reason
        results['transport'] = 'rawsocket'
        return results
    finally:
        transport.close()


if __name__ == '__main__':
    sys.exit(run_checks(__doc__, main, optional=1))
