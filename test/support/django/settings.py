"""Settings for the Django peer used by sessionkit's interop tests (test/django-interop.test.ts).

Everything comes from the environment the test sets: DJANGO_SECRET_KEY, and either
DJANGO_SQLITE (a file path) or DJANGO_PG_{HOST,PORT,USER,NAME}.
"""
import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
USE_TZ = True  # expire_date is naive UTC text on SQLite, timestamptz on PostgreSQL
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
]
SESSION_ENGINE = os.environ.get("DJANGO_SESSION_ENGINE", "django.contrib.sessions.backends.db")
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
SESSION_COOKIE_AGE = 1209600
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
# Fast hashing: the tests log in, they do not test password storage.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

if os.environ.get("DJANGO_PG_HOST"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ["DJANGO_PG_HOST"],
            "PORT": os.environ["DJANGO_PG_PORT"],
            "USER": os.environ["DJANGO_PG_USER"],
            "NAME": os.environ["DJANGO_PG_NAME"],
            "PASSWORD": os.environ.get("DJANGO_PG_PASSWORD", ""),
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJANGO_SQLITE"]}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"django.security": {"handlers": ["null"], "propagate": False}},
}
