#!/usr/bin/python3
"""
Interop probe: autobahn-python (asyncio) authenticating to a Switchboard router with WAMP-Cryptosign.

Usage: cryptosign.py URL SERIALIZER SEED_HEX [AUTHID] [TIMEOUT_S]
  URL         ws://host:port/ws
  SERIALIZER  json | msgpack | cbor
  SEED_HEX    the Ed25519 private key (32-byte seed) as 64 hex characters
  AUTHID      the authid to ask for; '-' (default) to be identified by the public key alone

Run with Debian's /usr/bin/python3 and python3-autobahn (with PyNaCl), python3-cbor2, python3-msgpack.

It joins realm1 with authmethods ['cryptosign'] and authextra.pubkey, signs the CHALLENGE with
autobahn.wamp.cryptosign.CryptosignKey, and prints one JSON line:
  {"ok": true, "joined": {realm, authid, authrole, authmethod, authprovider}} after WELCOME (then
  GOODBYE), or {"ok": true, "aborted": {"reason": ..., "message": ...}} when the router refused,
  or {"ok": false, "error": "..."}.
Exit 0 for either outcome (the test decides which it expected), 1 on an error, 2 on bad usage,
3 when autobahn (or the serializer's library) cannot be imported. Every wait is bounded.
"""
import binascii
import sys

from authprobe import AuthProbe, join_once
from common import EXIT_MISSING, EXIT_USAGE, SERIALIZERS, emit, run_probe

try:
    from autobahn.wamp.cryptosign import CryptosignKey
except ImportError as exc:  # pragma: no cover - exercised only on a machine without PyNaCl
    emit({'ok': False, 'error': f'cannot import autobahn cryptosign: {exc}'})
    sys.exit(EXIT_MISSING)


class Signer(AuthProbe):
    def __init__(self, config, key, authid):
        super().__init__(config)
        self.key = key
        self.wanted_authid = authid

    def onConnect(self):
        self.join(self.config.realm, authmethods=['cryptosign'], authid=self.wanted_authid,
                  authextra={'pubkey': self.key.public_key(), 'channel_binding': None})

    def onChallenge(self, challenge):
        if challenge.method != 'cryptosign':
            raise Exception(f'unexpected authmethod {challenge.method}')
        return self.key.sign_challenge(challenge)


async def main(url, serializer_name, seed_hex, authid):
    key = CryptosignKey.from_bytes(binascii.a2b_hex(seed_hex))
    _session, result = await join_once(url, serializer_name, lambda config: Signer(config, key, authid))
    result['pubkey'] = key.public_key()
    return result


def run():
    if len(sys.argv) not in (4, 5, 6) or sys.argv[2] not in SERIALIZERS or len(sys.argv[3]) != 64:
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE
    url, serializer_name, seed_hex = sys.argv[1], sys.argv[2], sys.argv[3]
    authid = sys.argv[4] if len(sys.argv) >= 5 and sys.argv[4] != '-' else None
    timeout_s = float(sys.argv[5]) if len(sys.argv) == 6 else 15.0
    return run_probe(serializer_name, timeout_s, lambda: main(url, serializer_name, seed_hex, authid))


if __name__ == '__main__':
    sys.exit(run())
