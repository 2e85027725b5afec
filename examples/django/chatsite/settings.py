"""A minimal Django project: no database, one app. Everything about the router comes from the environment."""
import os
from pathlib import Path
from urllib.parse import urljoin

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = ["chat"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"]
ROOT_URLCONF = "chatsite.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True, "OPTIONS": {}}]
DATABASES = {}
USE_TZ = True

# The router: where the browser subscribes (WebSocket) and where this server publishes (HTTP bridge).
# `npm start -w examples/django` sets WAMP_URL to the router it started; the bridge is on the same port.
WS_URL = os.environ.get("SWITCHBOARD_WS_URL") or os.environ.get("WAMP_URL") or "ws://127.0.0.1:8080/ws"
SWITCHBOARD = {
    "WS_URL": WS_URL,
    "REALM": os.environ.get("SWITCHBOARD_REALM", "realm1"),
    "PUBLISH_URL": os.environ.get("SWITCHBOARD_PUBLISH_URL") or urljoin(WS_URL.replace("ws", "http", 1), "/publish"),
    "KEY": os.environ.get("SWITCHBOARD_KEY", "django"),
    # The example's router.json has the same; in production both read it from the environment
    # ("secret": "$SWITCHBOARD_SECRET" in the router's config).
    "SECRET": os.environ.get("SWITCHBOARD_SECRET", "change-me"),
    "TOPIC": "com.example.chat",
    # The browser bundle of @switchboard/client (npm run build writes it).
    "BUNDLE": os.environ.get("SWITCHBOARD_BUNDLE", str(BASE_DIR.parent.parent / "client" / "dist" / "bundle" / "switchboard.js")),
}
