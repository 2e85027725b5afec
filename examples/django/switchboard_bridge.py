"""
Publish and call through a Switchboard (or Crossbar.io) HTTP bridge from Python, with signed
requests. Standard library only: copy this file into any project.

    bridge = Bridge(publish_url="http://localhost:8080/publish", key="django", secret="...")
    publication = bridge.publish("com.example.chat", "hello", author="ada")

A signed request carries key, timestamp, seq, nonce and
signature = base64url(HMAC-SHA256(secret, key | timestamp | seq | nonce | body)) in its query.
"""
import base64
import datetime
import hashlib
import hmac
import itertools
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["Bridge", "BridgeError", "sign"]


class BridgeError(Exception):
    """The bridge refused the request (status 4xx/5xx), or answered a WAMP error (uri)."""

    def __init__(self, status, error, args=None, kwargs=None):
        super().__init__("{}: {}".format(status, error))
        self.status = status
        self.error = error
        self.args_ = args or []
        self.kwargs = kwargs or {}


def sign(secret, key, timestamp, seq, nonce, body):
    """The request signature, exactly as the router (and Crossbar) computes it."""
    mac = hmac.new(secret.encode("utf8"), None, hashlib.sha256)
    for part in (key, timestamp, str(seq), str(nonce)):
        mac.update(part.encode("utf8"))
    mac.update(body)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii")


def _utcnow():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Bridge:
    def __init__(self, publish_url=None, call_url=None, key=None, secret=None, token=None, timeout=10):
        if (key is None) != (secret is None):
            raise ValueError("key and secret go together")
        self.publish_url = publish_url
        self.call_url = call_url
        self.key = key
        self.secret = secret
        self.token = token
        self.timeout = timeout
        self._seq = itertools.count(1)

    def publish(self, topic, *args, options=None, **kwargs):
        """Publishes; returns the publication ID."""
        body = {"topic": topic, "args": list(args), "kwargs": kwargs}
        if options:
            body["options"] = options
        return self._post(self.publish_url, body)["id"]

    def call(self, procedure, *args, **kwargs):
        """Calls; returns (args, kwargs) of the result."""
        answer = self._post(self.call_url, {"procedure": procedure, "args": list(args), "kwargs": kwargs})
        return answer.get("args", []), answer.get("kwargs", {})

    def _post(self, url, payload):
        if url is None:
            raise ValueError("no URL for this kind of request")
        body = json.dumps(payload).encode("utf8")
        if self.key is not None:
            params = {"key": self.key, "timestamp": _utcnow(), "seq": next(self._seq), "nonce": secrets.randbelow(2 ** 53)}
            params["signature"] = sign(self.secret, self.key, params["timestamp"], params["seq"], params["nonce"], body)
            url = "{}{}{}".format(url, "&" if "?" in url else "?", urllib.parse.urlencode(params))
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = "Bearer " + self.token
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read().decode("utf8"))
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf8", "replace")
            try:
                detail = json.loads(text)
            except ValueError:
                detail = {"error": text}
            raise BridgeError(e.code, detail.get("error"), detail.get("args"), detail.get("kwargs"))
        # A WAMP error (not authorized, no such procedure...) comes back as 200 {"error": uri, ...}.
        if isinstance(answer, dict) and "error" in answer:
            raise BridgeError(200, answer["error"], answer.get("args"), answer.get("kwargs"))
        return answer
