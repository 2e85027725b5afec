"""The page (subscribed to the chat topic in the browser) and the form handler, which publishes
through the router's HTTP bridge with a signed request."""
import sys
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpResponseBadRequest, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from switchboard_bridge import Bridge, BridgeError  # noqa: E402

config = settings.SWITCHBOARD
bridge = Bridge(publish_url=config["PUBLISH_URL"], key=config["KEY"], secret=config["SECRET"])


def index(request):
    return render(request, "chat/index.html", {"ws_url": config["WS_URL"], "realm": config["REALM"], "topic": config["TOPIC"]})


def post_message(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    text = request.POST.get("text", "").strip()
    author = request.POST.get("author", "").strip() or "anonymous"
    if not text:
        return HttpResponseBadRequest("text is required")
    try:
        publication = bridge.publish(config["TOPIC"], text, author=author)
    except (BridgeError, OSError) as e:
        return JsonResponse({"error": str(e)}, status=502)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"publication": publication})
    return redirect("index")


def bundle(request):
    return FileResponse(open(config["BUNDLE"], "rb"), content_type="text/javascript")
