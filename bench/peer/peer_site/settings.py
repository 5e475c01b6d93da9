"""django-helpdesk 2.6.1 as a production site would run it, for the side-by-side benchmark.

Everything machine-specific comes from the environment:

    PEER_DATABASE_URL  postgres://USER[:PASSWORD]@HOST:PORT/NAME (default: libpq's own defaults,
                       i.e. PGHOST, PGPORT, PGUSER, PGPASSWORD, and the database PEER_DB)
    PEER_DB            the database's name when PEER_DATABASE_URL is not set (default peer_bench)
    PEER_SECRET_KEY    (default: a fixed benchmark key; this site is never exposed)
    PEER_ALLOWED_HOSTS comma-separated (default 127.0.0.1,localhost,testserver)

Production-like: DEBUG off (so Django's cached template loader), database sessions (the
default), persistent connections (CONN_MAX_AGE=60). Teams mode off, as a plain install without
pinax-teams needs. Email goes to Django's local-memory backend: the default SMTP to localhost:25
fails on a machine without a mail server, and django-helpdesk then skips building the messages,
which would flatter it.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = os.environ.get("PEER_SECRET_KEY", "peer-bench-" + "k" * 50)
DEBUG = False
ALLOWED_HOSTS = os.environ.get("PEER_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")


def _database() -> dict:
    url = os.environ.get("PEER_DATABASE_URL")
    if not url:
        return {"NAME": os.environ.get("PEER_DB", "peer_bench")}
    parts = urlsplit(url)
    return {
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "CONN_MAX_AGE": 60,
        **_database(),
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "peer_site.urls"
WSGI_APPLICATION = "peer_site.wsgi.application"

TEMPLATES = [
    {
        # No "loaders": with DEBUG off Django wraps the app directories loader in its cached one.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

SITE_ID = 1
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:home"

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.test"

HELPDESK_TEAMS_MODE_ENABLED = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
