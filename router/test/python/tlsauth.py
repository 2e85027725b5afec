"""
TLS client-certificate authentication probe: autobahn-python (asyncio) joins realm1 over wss://
presenting a client certificate, with HELLO.authmethods ['tls'], and reports WELCOME or ABORT as one
JSON line (see authprobe.py).

usage: tlsauth.py <wss-url> <server-ca.pem> <client-cert.pem|-> <client-key.pem|-> <timeout-s>
"""
import asyncio
import ssl
import sys

from authprobe import AuthProbe
from common import EXIT_USAGE, SERIALIZERS, bounded, emit, run_probe
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.websocket.util import parse_url


class TlsProbe(AuthProbe):
    def onConnect(self):
        self.join(self.config.realm, authmethods=['tls'])


async def probe(url, server_ca, cert, key):
    loop = asyncio.get_running_loop()
    _secure, host, port, _resource, _path, _params = parse_url(url)
    context = ssl.create_default_context(cafile=server_ca)
    if cert != '-':
        context.load_cert_chain(cert, key)
    created = loop.create_future()

    def factory_session():
        from autobahn.wamp.types import ComponentConfig
        session = TlsProbe(ComponentConfig(realm='realm1'))
        created.set_result(session)
        return session

    factory = WampWebSocketClientFactory(factory_session, url=url, serializers=[SERIALIZERS['json']()])
    transport, _protocol = await bounded(loop.create_connection(factory, host, port, ssl=context, server_hostname=host), f'TLS connect to {host}:{port}')
    try:
        session = await bounded(created, 'the WebSocket handshake')
        result = await bounded(asyncio.shield(session.outcome), 'WELCOME or ABORT')
        if 'joined' in result:
            session.leave('wamp.close.normal', 'probe done')
            await bounded(session.left, "the router's GOODBYE")
        return result
    finally:
        transport.close()


def main(argv):
    if len(argv) != 6:
        emit({'ok': False, 'error': __doc__.strip().splitlines()[-1]})
        return EXIT_USAGE
    url, server_ca, cert, key, timeout_s = argv[1], argv[2], argv[3], argv[4], float(argv[5])
    return run_probe('json', timeout_s, lambda: probe(url, server_ca, cert, key))


if __name__ == '__main__':
    sys.exit(main(sys.argv))
