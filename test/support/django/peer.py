"""A real Django peer for sessionkit's interop tests.

Reads one JSON command per line on stdin and answers one JSON line on stdout:
{"ok": true, ...} or {"ok": false, "error": "..."}. Every command runs with Django's own code
(django.contrib.sessions, django.contrib.auth, the clearsessions command), never a re-implementation.
"""
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib import auth  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.sessions.backends import db as db_backend  # noqa: E402
from django.contrib.sessions.backends import signed_cookies  # noqa: E402
from django.contrib.sessions.middleware import SessionMiddleware  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


security = Records()
logging.getLogger("django.security.SuspiciousSession").addHandler(security)


def request_with(key):
    request = RequestFactory().get("/")
    if key:
        request.COOKIES[settings.SESSION_COOKIE_NAME] = key
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def run(cmd):
    name = cmd["cmd"]
    if "secret" in cmd:
        settings.SECRET_KEY = cmd["secret"]
    if name == "migrate":
        call_command("migrate", verbosity=0)
        return {}
    if name == "version":
        return {"version": list(django.VERSION[:3])}
    if name == "create":
        s = db_backend.SessionStore()
        s.update(cmd.get("data", {}))
        if "expiry" in cmd:
            s.set_expiry(cmd["expiry"])
        s.save()
        return {"key": s.session_key}
    if name == "login":
        user = User.objects.filter(username=cmd["username"]).first()
        if user is None:
            user = User.objects.create_user(cmd["username"], password=cmd["password"])
        request = request_with(None)
        request.session.update(cmd.get("data", {}))
        auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session.save()
        return {"key": request.session.session_key, "user_id": user.pk, "password": user.password,
                "auth_hash": user.get_session_auth_hash()}
    if name == "set_password":
        user = User.objects.get(username=cmd["username"])
        user.set_password(cmd["password"])
        user.save()
        return {"password": user.password}
    if name == "get_user":
        # Exactly what a Django view sees as request.user (verifies _auth_user_hash).
        request = request_with(cmd["key"])
        user = auth.get_user(request)
        return {"user_id": user.pk if user.is_authenticated else None}
    if name == "read":
        before = len(security.messages)
        s = db_backend.SessionStore(session_key=cmd["key"])
        data = s.load()
        return {"data": data, "found": s.session_key is not None, "corrupted": len(security.messages) > before}
    if name == "row":
        row = Session.objects.filter(session_key=cmd["key"]).values("session_data", "expire_date").first()
        return {"row": None if row is None else {"session_data": row["session_data"], "expire_date": row["expire_date"].isoformat()}}
    if name == "raw_expire_date":
        from django.db import connection
        with connection.cursor() as c:
            c.execute("SELECT expire_date FROM django_session WHERE session_key = %s", [cmd["key"]])
            r = c.fetchone()
        return {"expire_date": None if r is None else str(r[0])}
    if name == "update":
        s = db_backend.SessionStore(session_key=cmd["key"])
        s.update(cmd.get("data", {}))
        for k in cmd.get("delete", []):
            del s[k]
        if "expiry" in cmd:
            s.set_expiry(cmd["expiry"])
        s.save()
        return {"key": s.session_key}
    if name == "flush":
        s = db_backend.SessionStore(session_key=cmd["key"])
        s.flush()
        return {}
    if name == "exists":
        return {"exists": db_backend.SessionStore().exists(cmd["key"])}
    if name == "count":
        return {"count": Session.objects.count()}
    if name == "clearsessions":
        call_command("clearsessions")
        return {"count": Session.objects.count()}
    if name == "encode":
        return {"token": db_backend.SessionStore().encode(cmd["data"])}
    if name == "decode":
        before = len(security.messages)
        data = db_backend.SessionStore().decode(cmd["token"])
        return {"data": data, "corrupted": len(security.messages) > before}
    if name == "cookie_sign":
        s = signed_cookies.SessionStore()
        s.update(cmd["data"])
        s.save()
        return {"value": s.session_key}
    if name == "cookie_read":
        s = signed_cookies.SessionStore(session_key=cmd["value"])
        data = s.load()
        return {"data": data, "valid": not s.modified}
    raise ValueError("unknown command %r" % name)


for line in sys.stdin:
    try:
        answer = {"ok": True, **run(json.loads(line))}
    except Exception as exc:  # answer, never die: the test reads the error
        answer = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
