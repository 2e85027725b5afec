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
import binascii
import sys

from authprobe import AuthProbe, join_once
from common import EXIT_MISSING, EXIT_USAGE, SERIALIZERS, emit, run_probe

try:
    from autobahn.wamp import auth as wamp_auth
    if not wamp_auth.HAS_ARGON:
        raise ImportError('autobahn has no WAMP-SCRAM support: argon2-cffi or passlib is missing (install python3-argon2 python3-passlib)')
except ImportError as exc:  # pragma: no cover - exercised only on a machine without the packages
    emit({'ok': False, 'error': f'cannot import autobahn with SCRAM support: {exc}'})
    sys.exit(EXIT_MISSING)


class Scrammer(AuthProbe):
    def __init__(self, config, authid, password):
        super().__init__(config)
        self.scram = wamp_auth.AuthScram(authid=authid, password=password)
        self.wanted_authid = authid
        self.server_verified = None

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


async def main(url, serializer_name, authid, password):
    session, result = await join_once(url, serializer_name, lambda config: Scrammer(config, authid, password))
    result['server_verified'] = session.server_verified
    return result


def run():
    if len(sys.argv) == 5 and sys.argv[1] == '--derive':
        emit(wamp_auth.derive_scram_credential(sys.argv[2], sys.argv[3], binascii.a2b_hex(sys.argv[4])))
        return 0
    if len(sys.argv) not in (5, 6) or sys.argv[2] not in SERIALIZERS:
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE
    url, serializer_name, authid, password = sys.argv[1:5]
    timeout_s = float(sys.argv[5]) if len(sys.argv) == 6 else 15.0
    return run_probe(serializer_name, timeout_s, lambda: main(url, serializer_name, authid, password))


if __name__ == '__main__':
    sys.exit(run())
