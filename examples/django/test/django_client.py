"""Drives the example with Django's test client: GET the page, POST the form. Prints one JSON line."""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402

client = Client()
page = client.get("/")
posted = client.post("/post", {"text": sys.argv[1], "author": sys.argv[2]}, HTTP_ACCEPT="application/json")
form = client.post("/post", {"text": sys.argv[1] + " (form)", "author": sys.argv[2]})
print(json.dumps({
    "page": {"status": page.status_code, "html": page.content.decode("utf8")},
    "post": {"status": posted.status_code, "body": json.loads(posted.content.decode("utf8"))},
    "form": {"status": form.status_code, "location": form.get("Location")},
}))
