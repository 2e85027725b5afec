"""
Shared by the interop probes in this folder (basic.py, e2ee.py, rawsocket.py, and through
authprobe.py cryptosign.py, scram.py, tlsauth.py): the exit codes, the one-line JSON output,
autobahn's asyncio flavour and serializers, bounded waits, and the runner that turns a probe's
coroutine into that output and exit code.

A probe is run as `/usr/bin/python3 router/test/python/<probe>.py …`, so Python puts this folder
first on sys.path and `from common import …` finds this file whatever the working directory.
Importing it without python3-autobahn prints {"ok": false, "error": "cannot import autobahn: …
(install python3-autobahn)"} and exits with EXIT_MISSING.
"""
import asyncio
import json
import sys
import traceback

EXIT_FAILED, EXIT_USAGE, EXIT_MISSING = 1, 2, 3
STEP_TIMEOUT_S = 5.0
DEFAULT_TIMEOUT_S = 15.0


def emit(obj):
    print(json.dumps(obj, sort_keys=True, ensure_ascii=False), flush=True)


try:
    import txaio
    txaio.use_asyncio()
    from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
except ImportError as exc:  # pragma: no cover - exercised only on a machine without the packages
    emit({'ok': False, 'error': f'cannot import autobahn: {exc} (install python3-autobahn)'})
    sys.exit(EXIT_MISSING)

SERIALIZERS = {'json': JsonSerializer, 'msgpack': MsgPackSerializer, 'cbor': CBORSerializer}


def check(condition, message):
    if not condition:
        raise AssertionError(message)


async def bounded(awaitable, what, timeout=STEP_TIMEOUT_S):
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f'timed out after {timeout} s waiting for {what}') from None


def run_probe(serializer_name, timeout_s, probe):
    """Runs the coroutine probe() within timeout_s and prints {"ok": true, **what it returned} as one
    JSON line (0), or {"ok": false, "error": …} when the serializer's library is missing
    (EXIT_MISSING) or the probe failed (EXIT_FAILED, the traceback on stderr)."""
    try:
        SERIALIZERS[serializer_name]()
    except Exception as exc:  # e.g. cbor2 or msgpack missing: autobahn raises when constructing
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


def run_checks(doc, main, optional=0):
    """The command line of basic.py, e2ee.py and rawsocket.py: URL SERIALIZER [TIMEOUT_S] and up to
    `optional` more arguments. Runs main(url, serializer_name, timeout_s, *more) within TIMEOUT_S + 5 s
    and prints {"ok": true, "results": …}; bad usage prints `doc` to stderr (EXIT_USAGE)."""
    argv = sys.argv[1:]
    if not 2 <= len(argv) <= 3 + optional or argv[1] not in SERIALIZERS:
        print(doc, file=sys.stderr)
        return EXIT_USAGE
    url, serializer_name = argv[0], argv[1]
    timeout_s = float(argv[2]) if len(argv) >= 3 else DEFAULT_TIMEOUT_S

    async def probe():
        return {'results': await main(url, serializer_name, timeout_s, *argv[3:])}

    return run_probe(serializer_name, timeout_s + 5, probe)
