"""Settings for the Phonism helpdesk.

Everything comes from the environment (see `.env.example`); the defaults are for development on
one machine: an SQLite file under `var/`, the console email backend, no Redis.
"""

import os
import urllib.parse
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-development-only-set-SECRET_KEY-in-production"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", ".localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Behind TLS in production: one switch turns on every HTTPS-only protection.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp): scripts and styles only from our own files, no inline
# script or style anywhere. The one inline <style> (the brand's colours in base.html) carries the
# request's nonce. Nobody may frame a page: a view that must be framed (the widget) says so with
# helpdesk.csp.frame_ancestors / allow_framing. Enforced unless CSP_REPORT_ONLY=true in the
# environment (default: report-only with DEBUG, so a developer sees violations in the console
# without a broken page).
# (Named SECURITY_POLICY_*: django-csp's system check refuses its own pre-4.0 CSP_* names.)
SECURITY_POLICY_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=DEBUG)
SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "report-uri": env.list("CSP_REPORT_URI", default=[]) or None,
    }
}
CONTENT_SECURITY_POLICY = None if SECURITY_POLICY_REPORT_ONLY else SECURITY_POLICY
CONTENT_SECURITY_POLICY_REPORT_ONLY = SECURITY_POLICY if SECURITY_POLICY_REPORT_ONLY else None

INSTALLED_APPS = [
    "helpdesk.admin_site.HelpdeskAdminConfig",  # django.contrib.admin, its site's app list lazy
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_filters",
    "csp",
    # Two-factor sign-in (twofactor/): authenticator apps (TOTP) and one-time recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "twofactor",
    "tenants",
    "helpdesk",
    "sla",
    "ops",
    "rest_framework",
    "drf_spectacular",
    "api",
    "widget",
    "intake",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below whitenoise: static files keep their long cache; pages are private, no-store.
    "helpdesk.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the second factor given in this session, if any.
    "twofactor.middleware.RememberedOTPMiddleware",  # django-otp's, its device remembered
    # Staff (and people who turned two-factor on) go no further than its pages until verified.
    "twofactor.middleware.SecondFactorRequiredMiddleware",
    "tenants.middleware.TenantTimezoneMiddleware",
    # request.brand: the viewer's tier one's brand, or the host's for visitors (SPEC §8).
    "tenants.middleware.BrandMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ids out of any column's range are 404s; the admin is for provider staff only.
    "helpdesk.middleware.BoundedPathMiddleware",
    "helpdesk.middleware.StaffOnlyAdminMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.brand",
            ],
        },
    },
]

# Form templates are looked up like page templates, so templates/django/forms/ can refine them;
# the commonest widgets' own templates are written in Python while they are Django's
# (helpdesk/form_renderer.py: the same markup, a fraction of the time).
FORM_RENDERER = "helpdesk.form_renderer.FastTemplatesSetting"

# The web process's garbage collector (helpdesk/wsgi.py): a collection of the youngest objects
# after this many allocations instead of Python's 700. A page makes tens of thousands of short-lived
# objects, nearly none in cycles: at 700 the collector ran dozens of times per admin case page
# (1.4 ms of about 18, bench/bench_case_page.py). 0 keeps Python's own.
GC_GEN0_THRESHOLD = env.int("GC_GEN0_THRESHOLD", default=10_000)

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same, its health check of a reused connection looking at the socket instead of
    # sending `SELECT 1` on every request (a server restart is still seen: helpdesk/postgresql).
    DATABASES["default"]["ENGINE"] = "helpdesk.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks rather than fail.
    # Write-ahead log, synced at checkpoints rather than at every commit (synchronous=NORMAL,
    # SQLite's advice for WAL): a commit stays durable if a process crashes, and may be lost
    # only if the machine itself loses power; it saves a disk sync (4-5 ms here) per commit,
    # per email taken in and per form sent. Production runs on PostgreSQL.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and "PYTEST_VERSION" in os.environ and os.environ.get("PYTEST_XDIST_WORKER"):
    # The test suite's parallel workers (pytest-xdist, "gw0", "gw1"...) each take a Redis
    # database of their own after REDIS_URL's: tests clear the cache and run Celery workers,
    # which must never reach another test process's. (`make test` starts at most 8.)
    _redis = urllib.parse.urlsplit(REDIS_URL)
    _db = int(_redis.path.strip("/") or 0) + 1 + int(os.environ["PYTEST_XDIST_WORKER"][2:])
    if _db > 15:
        raise ImproperlyConfigured(f"pytest-xdist worker needs Redis database {_db} (0-15)")
    REDIS_URL = urllib.parse.urlunsplit(_redis._replace(path=f"/{_db}"))
if REDIS_URL:
    CACHES = {
        # Django's, reusing its redis-py client instead of building one per call.
        "default": {"BACKEND": "helpdesk.redis_cache.RedisCache", "LOCATION": REDIS_URL}
    }
    # Sessions read from the shared cache, written through to the database. Only with a shared
    # cache: with per-process memory a sign-out would not reach the other workers.
    # (Django's cached_db, reading the per-process memories' stamps in the same round trip.)
    SESSION_ENGINE = "tenants.sessions"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "tenants.User"
# Each web process remembers the people who sign in (tenants.backends), forgotten in every
# process when people, memberships or tenants are written, through a stamp in the shared
# cache. Only with a shared cache (or in a test run, one process): with per-process memory
# another process would notice a deactivation only after a minute.
PEOPLE_MEMO = env.bool("PEOPLE_MEMO", default=bool(REDIS_URL) or "PYTEST_VERSION" in os.environ)
AUTHENTICATION_BACKENDS = ["tenants.backends.ActiveTenantBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Wrong second-factor codes make the next try wait 1, 2, 4, 8 ... seconds times this factor.
OTP_TOTP_THROTTLE_FACTOR = env.int("OTP_THROTTLE_FACTOR", default=1)
OTP_STATIC_THROTTLE_FACTOR = OTP_TOTP_THROTTLE_FACTOR
# Staff see that a person has a device, never its secret or QR code (no 500 on a missing id).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# The default display time zone; each tenant may name its own. Storage is always UTC.
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")
USE_I18N = True
# Our date-time formats carry the zone (helpdesk/formats/en/formats.py).
FORMAT_MODULE_PATH = ["helpdesk.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("MEDIA_ROOT", default=VAR_DIR / "media")},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Attachments never live under a public URL: they are served by a view that asks the access
# policy (helpdesk.views.download_attachment). What a case may carry:
ATTACHMENTS_ROOT = env.path("ATTACHMENTS_ROOT", default=VAR_DIR / "attachments")
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_EXTENSIONS = env.list(
    "ATTACHMENT_EXTENSIONS",
    default=[
        "pdf",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "txt",
        "log",
        "csv",
        "json",
        "xml",
        "zip",
        "pcap",
        "eml",
    ],
)
# Rate limits per hour (helpdesk/ratelimits.py), counted in the cache; 0 turns one off.
RATE_CASES_PER_PERSON_HOUR = env.int("RATE_CASES_PER_PERSON_HOUR", default=30)
RATE_CASES_PER_TENANT_HOUR = env.int("RATE_CASES_PER_TENANT_HOUR", default=300)
RATE_UPLOADS_PER_PERSON_HOUR = env.int("RATE_UPLOADS_PER_PERSON_HOUR", default=100)
RATE_UPLOADS_PER_TENANT_HOUR = env.int("RATE_UPLOADS_PER_TENANT_HOUR", default=1000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="support@phonism.test")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Emergencies page this address at opening and at breach (a tenant may name its own).
ONCALL_EMAIL = env.str("ONCALL_EMAIL", default="oncall@phonism.test")
# Links in emails point here (no request to build them from: emails are sent by workers).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Celery (helpdesk/celery.py): Redis in production and CI; with no REDIS_URL an embedded broker
# that needs no server (kombu's filesystem transport under var/broker), so `make run` is one
# command. pytest sets PYTEST_VERSION: tests get an in-memory broker and run tasks eagerly unless
# a test starts a real worker (tests/worker), so a test run never writes to var/ or a shared Redis.
TESTING = "PYTEST_VERSION" in os.environ
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str(
    # (kombu ignores the host of these two; naming one spares a warning on every start)
    "CELERY_BROKER_URL",
    default="memory://localhost//" if TESTING else (REDIS_URL or "filesystem://localhost//"),
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Producers write where consumers read: one folder for both directions.
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    if CELERY_BROKER_URL.startswith("redis://"):
        # kombu's Redis transport, reusing its client to publish (helpdesk/broker.py).
        CELERY_BROKER_TRANSPORT = "helpdesk.broker:Transport"
    # A broker that is down must fail an enqueue quickly: the outbox catches up later.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 10}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=TESTING)
# How often beat runs the SLA sweep and the outbox drain (an interval, never a crontab).
SLA_SWEEP_EVERY = timedelta(seconds=env.int("SLA_SWEEP_SECONDS", default=60))
# Running clocks the sweep handles per transaction: bounds its memory and its lock time.
SLA_SWEEP_BATCH = env.int("SLA_SWEEP_BATCH", default=1000)
# An outbox row still pending this long after its last enqueue is enqueued again by the drain.
OUTBOX_REQUEUE_AFTER = timedelta(seconds=env.int("OUTBOX_REQUEUE_SECONDS", default=120))
# A worker that died while sending holds its row this long; then another worker sends it. Longer
# than any one SMTP conversation (the fault tests shorten it to see the recovery).
OUTBOX_CLAIM_LEASE = timedelta(seconds=env.int("OUTBOX_CLAIM_LEASE_SECONDS", default=600))

# The widget (SPEC §7, widget/): host portals sign short-lived JWTs with per-tenant keys.
# Widget key secrets are stored encrypted with Fernet keys from here (comma-separated, newest
# first, to rotate); empty means one derived from SECRET_KEY (development).
WIDGET_KEYS_FERNET_KEYS = env.list("WIDGET_KEYS_FERNET_KEYS", default=[])
WIDGET_AUDIENCE = env.str("WIDGET_AUDIENCE", default="helpdesk-widget")
WIDGET_CLOCK_SKEW_SECONDS = env.int("WIDGET_CLOCK_SKEW_SECONDS", default=30)
# A widget session lasts this long after its last use (sliding), and never more than 8 hours.
WIDGET_SESSION_SECONDS = env.int("WIDGET_SESSION_SECONDS", default=1800)
# A rotated key stays valid this long next to its successor.
WIDGET_KEY_ROTATION_HOURS = env.int("WIDGET_KEY_ROTATION_HOURS", default=24)
# The demo "host portal" pages (make run): on with DEBUG, off in production.
WIDGET_DEMO = env.bool("WIDGET_DEMO", default=DEBUG)
# Email intake (intake/, issue 12). The HTTP endpoint is off until a secret is set.
INTAKE_SECRET = env.str("INTAKE_SECRET", default="")
# Largest raw message the HTTP endpoint takes (a mail server enforces its own for the pipe).
INTAKE_MAX_BYTES = env.int("INTAKE_MAX_BYTES", default=30 * 1024 * 1024)
# Cases one sender may open by email per hour; beyond it messages wait in triage.
INTAKE_MAX_CASES_PER_HOUR = env.int("INTAKE_MAX_CASES_PER_HOUR", default=20)
# IMAP messages fetched per round trip, and network timeout of a poll in seconds.
INTAKE_IMAP_BATCH = env.int("INTAKE_IMAP_BATCH", default=100)
INTAKE_IMAP_TIMEOUT = env.int("INTAKE_IMAP_TIMEOUT", default=30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}


# The REST API (issue 17): API keys only (no session auth: no CSRF questions for integrators),
# JSON in and out, per-key rate limits in the shared cache (works on locmem and on Redis).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON everywhere; the two operations that take files (opening a case, adding an update)
    # also take multipart (api.views.WITH_FILES), and the schema says exactly that.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.CommonAnswersFirst",
    "DEFAULT_THROTTLE_CLASSES": ["api.authentication.PerKeyThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="600/minute")},
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# API keys found live in the last minute are read from the cache, not the database
# (api.keycache): only with a cache all processes share, since forgetting a revoked key must
# reach every one of them at once. Also how often a key's last use is written, at most.
API_KEY_CACHE_SECONDS = 60 if REDIS_URL else 0
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Cases, people and SLA figures, within exactly the same walls as the pages.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# Webhooks may target private or loopback addresses only in development (SSRF otherwise).
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=DEBUG)
