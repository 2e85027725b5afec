"""A minimal Django project: no database, one app. Everything about the router comes from the environment."""
import os
from pathlib import Path

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
SWITCHBOARD = {
    "WS_URL": os.environ.get("SWITCHBOARD_WS_URL", "ws://localhost:8080/ws"),
    "REALM": os.environ.get("SWITCHBOARD_REALM", "realm1"),
    "PUBLISH_URL": os.environ.get("SWITCHBOARD_PUBLISH_URL", "http://localhost:8080/publish"),
    "KEY": os.environ.get("SWITCHBOARD_KEY", "django"),
    "SECRET": os.environ.get("SWITCHBOARD_SECRET", "change-me"),
    "TOPIC": "com.example.chat",
    # The browser bundle of @switchboard/client (npm run build writes it).
    "BUNDLE": os.environ.get("SWITCHBOARD_BUNDLE", str(BASE_DIR.parent.parent / "client" / "dist" / "bundle" / "switchboard.js")),
}
