"""Django settings: everything an operator may change comes from the environment."""

import contextlib
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.static import PERMISSIONS_POLICY as STATIC_PERMISSIONS_POLICY
from core.static import static_headers

BASE_DIR = Path(__file__).resolve().parent.parent

_INSECURE_KEY = "dev-only-insecure-key-change-me"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "" if not DEBUG else _INSECURE_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")

if not DEBUG:
    # Production must be configured on purpose: refuse to start on the defaults.
    if not SECRET_KEY or SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("DEBUG is off: set SECRET_KEY to a random string of 32+ chars")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG is off: set ALLOWED_HOSTS (comma-separated host names)")

INSTALLED_APPS = [
    "daphne",
    "core.admin_site.DeskAdminConfig",  # Django's admin, under the desk's own name
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # full-text search over messages (sessions_app/selectors.py)
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files: no CDN
    "channels",
    "csp",
    "axes",
    "agents_app",
    "skills_app",
    "sessions_app",
    "canned_app",
    "webhooks_app",
    "supervision_app",
]

MIDDLEWARE = [
    # First: how long the request waited before Django started on it (/metrics).
    "contactcenter.overload.RequestQueueMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from daphne itself (app and package static via the finders), so the API
    # docs and the pages work without a separate file server or a collectstatic step.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # `?lang=` on a page, else a signed-in agent's own language (after authentication).
    "core.middleware.LanguageChoiceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy (django-csp) and Permissions-Policy on every response.
    "csp.middleware.CSPMiddleware",
    "core.middleware.PermissionsPolicyMiddleware",
    # Failed logins counted per account and per address (django-axes): last but one.
    "axes.middleware.AxesMiddleware",
    # Last, so it sees exceptions from views first: a lost database or Redis is a 503.
    "core.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "contactcenter.urls"
ASGI_APPLICATION = "contactcenter.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# SQLite is the laptop default; DATABASE_URL (e.g. postgres://...) selects anything else.
_default_sqlite = f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_sqlite), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # Django's SQLite defaults answer concurrent writers with "database is locked":
    # WAL lets readers run beside the writer, IMMEDIATE takes the write lock up front
    # (no upgrade deadlocks) and the timeout makes writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # A database that does not answer must fail fast (healthz answers 503, not a hang).
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = int(
        os.environ.get("DATABASE_CONNECT_TIMEOUT", "3")
    )
    # A pool per process: without it every request and every socket's database call opened a
    # new connection (a PostgreSQL backend fork each), the largest single CPU cost under load.
    # Connections are checked on checkout, so a restarted database costs no failed requests.
    # Celery's prefork parent never opens the pool, so each child opens its own after the fork.
    _pool_max = int(os.environ.get("DATABASE_POOL_MAX_SIZE", "20"))
    if _pool_max > 0:
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": min(_pool_max, int(os.environ.get("DATABASE_POOL_MIN_SIZE", "2"))),
            "max_size": _pool_max,
            # Waiting longer for a connection than this answers 503 (an OperationalError): a
            # database that is down must not hold requests longer than a connect would.
            "timeout": float(
                os.environ.get(
                    "DATABASE_POOL_TIMEOUT", os.environ.get("DATABASE_CONNECT_TIMEOUT", "3")
                )
            ),
        }
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side parameters, and a statement run this often on a connection is prepared:
    # planning was a third of the session-create call's database time (bench/routing.py).
    # After a migration that changes a table, restart the processes (their plans are stale).
    _prepare = int(os.environ.get("DATABASE_PREPARE_THRESHOLD", "5"))
    if _prepare > 0:
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = _prepare
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Failed logins (core/logins.py): after LOGIN_FAILURE_LIMIT wrong passwords for one account, or
# from one address, that account or address is locked out for LOGIN_LOCKOUT_MINUTES.
AUTHENTICATION_BACKENDS = [
    "core.logins.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.logins.client_ip"
AXES_LOCKOUT_CALLABLE = "core.logins.lockout_response"
AXES_VERBOSE = False

# Every way an agent gets a password (admin, REST) is checked by all four (seed_demo aside).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The desk speaks English and Simplified Chinese (locale/): a customer's language from the
# browser or `?lang=`, an agent's from their profile (core/middleware.py).
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Times to the second wherever Django formats them (the admin's lists and pages): an offer
# lives for seconds, and the audit trail is read by its order (core/formats/).
FORMAT_MODULE_PATH = "core.formats"
# The desk's name, as staff see it in the admin's header and titles.
DESK_NAME = os.environ.get("DESK_NAME", "Contact desk")

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
# Static files: never sniffed into another type, cached an hour (their names carry no hash).
WHITENOISE_MAX_AGE = 3600
WHITENOISE_ADD_HEADERS_FUNCTION = static_headers
# Before any collectstatic the finders serve everything; an empty root keeps WhiteNoise quiet.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(exist_ok=True)

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/workspace/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Keys this deployment writes to Redis (push seq counters, channel names, cache, the Celery
# broker's queues) start with it, so two deployments or test runs can share one Redis server.
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "cc")

# Per asyncio Redis pool of a process (channel layer, seq and presence clients of a daphne).
# redis-py caps a pool at 100 connections and then raises MaxConnectionsError: a burst of
# handshakes on a busy daphne crashed consumers, whose clients reconnected and made the next
# burst bigger. Redis takes thousands.
REDIS_MAX_CONNECTIONS = int(os.environ.get("REDIS_MAX_CONNECTIONS", "1000"))
_layer_host = {
    "address": REDIS_URL,
    # redis-py's default 5 s read timeout equals channels-redis' blocking wait,
    # which drops idle sockets with 1011 after 5 s (channels_redis#422).
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "max_connections": REDIS_MAX_CONNECTIONS,
}
# "pubsub" (default): one PUBLISH per push, and a daphne reads every frame for all its sockets
# from one subscription. "core": a sorted set per channel; each message received costs a
# daphne four sequential Redis round trips, which capped a busy daphne at a few hundred
# frames/s and put seconds between commit and frame under load (docs/performance.md).
# Both deliver at most once; `seq` numbers let clients notice a loss either way.
CHANNEL_LAYER = os.environ.get("CHANNEL_LAYER", "pubsub")
if CHANNEL_LAYER not in ("pubsub", "core"):
    raise ImproperlyConfigured("CHANNEL_LAYER must be 'pubsub' or 'core'.")
if CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "sessions_app.layer.BatchedPubSubChannelLayer",
            "CONFIG": {"hosts": [_layer_host], "prefix": f"{REDIS_PREFIX}:asgi:"},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [_layer_host],
                "prefix": f"{REDIS_PREFIX}:asgi",
                # Over capacity channels-redis drops messages silently; seq exposes the loss.
                "capacity": int(os.environ.get("CHANNEL_CAPACITY", "1000")),
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }

# Celery: timers run on their own queue so a backlog of other work never delays them.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
if CELERY_BROKER_URL.startswith("redis://"):
    # Redis's own transport, but a worker survives a Redis restart (contactcenter/broker.py).
    CELERY_BROKER_TRANSPORT = "contactcenter.broker:Transport"
# Every broker key (queues, unacknowledged messages, bindings) starts with REDIS_PREFIX too, so
# two desks sharing one Redis never take each other's tasks.
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TIMER_QUEUE = os.environ.get("CELERY_TIMER_QUEUE", "timers")
CELERY_TASK_ROUTES = {
    "sessions_app.tasks.timers_due_task": {"queue": CELERY_TIMER_QUEUE},
    "sessions_app.tasks.timers_sweep_task": {"queue": CELERY_TIMER_QUEUE},
    "sessions_app.tasks.queue_drain_task": {"queue": CELERY_TIMER_QUEUE},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
TIMER_SWEEP_SECONDS = float(os.environ.get("TIMER_SWEEP_SECONDS", "2"))
# Deadlines falling in one tick share one countdown task (sessions_app/timers.py): a timer is
# at most this late by design, and a burst of deadlines costs the workers one task per tick.
TIMER_TICK_MS = int(os.environ.get("TIMER_TICK_MS", "50"))
# The GIL switch interval of daphne processes (contactcenter/asgi.py); 0 keeps Python's 5 ms.
ASGI_SWITCH_INTERVAL_MS = float(os.environ.get("ASGI_SWITCH_INTERVAL_MS", "1"))
# How often each web process checks how late its event loop runs (/metrics:
# cc_event_loop_lag_seconds); 0 turns the check off.
LOOP_LAG_INTERVAL_SECONDS = float(os.environ.get("LOOP_LAG_INTERVAL_SECONDS", "0.25"))
# Webhooks (webhooks_app): a delivery worker of its own on this queue (Procfile `webhooks`).
WEBHOOK_QUEUE = os.environ.get("WEBHOOK_QUEUE", "webhooks")
CELERY_TASK_ROUTES["webhooks_app.tasks.webhooks_pump_task"] = {"queue": WEBHOOK_QUEUE}
CELERY_TASK_ROUTES["webhooks_app.tasks.webhooks_prune_task"] = {"queue": WEBHOOK_QUEUE}
# Loopback, private, link-local and reserved addresses allowed as webhook targets: only for a
# laptop (the default follows DEBUG).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", DEBUG)
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
# The first retry's wait; each next one doubles (8 attempts: about an hour at 30 s).
WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("WEBHOOK_BACKOFF_SECONDS", "30"))
WEBHOOK_CONCURRENCY = int(os.environ.get("WEBHOOK_CONCURRENCY", "8"))  # in flight per webhook
WEBHOOK_CLAIM_BATCH = int(os.environ.get("WEBHOOK_CLAIM_BATCH", "200"))
WEBHOOK_RETENTION_DAYS = float(os.environ.get("WEBHOOK_RETENTION_DAYS", "14"))
WEBHOOK_SUBSCRIPTIONS_TTL = float(os.environ.get("WEBHOOK_SUBSCRIPTIONS_TTL", "1"))
WEBHOOK_PUMP_SECONDS = float(os.environ.get("WEBHOOK_PUMP_SECONDS", "2"))  # beat's trigger
CELERY_BEAT_SCHEDULE = {
    "timers-sweep": {
        "task": "sessions_app.tasks.timers_sweep_task",
        "schedule": TIMER_SWEEP_SECONDS,
        # A sweep nobody ran in time is useless: the next one does its work.
        "options": {"expires": max(TIMER_SWEEP_SECONDS * 2, 1.0)},
    },
    # Retries that fell due, and deliveries whose wake was lost (webhooks_app/delivery.py).
    "webhooks-pump": {
        "task": "webhooks_app.tasks.webhooks_pump_task",
        "schedule": WEBHOOK_PUMP_SECONDS,
        "options": {"queue": WEBHOOK_QUEUE, "expires": 5.0},
    },
    "webhooks-prune": {
        "task": "webhooks_app.tasks.webhooks_prune_task",
        "schedule": 3600.0,
        "options": {"queue": WEBHOOK_QUEUE, "expires": 600.0},
    },
    # The reports' day rollups: days that are over, and days a late change dropped.
    "reports-rollup": {
        "task": "supervision_app.tasks.reports_rollup_task",
        "schedule": float(os.environ.get("REPORTS_ROLLUP_SECONDS", "300")),
        "options": {"expires": 600.0},
    },
    # Sets away online agents whose every workspace is gone (agents_app/presence.py).
    "presence-sweep": {
        "task": "agents_app.tasks.presence_sweep_task",
        "schedule": float(os.environ.get("PRESENCE_SWEEP_SECONDS", "5")),
        "options": {"queue": CELERY_TIMER_QUEUE, "expires": 10.0},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "session_create": os.environ.get("THROTTLE_SESSION_CREATE", "30/minute"),
        "customer_message": os.environ.get("THROTTLE_CUSTOMER_MESSAGE", "60/minute"),
        "auth_token": os.environ.get("THROTTLE_AUTH_TOKEN", "30/minute"),
        "offline_message": os.environ.get("THROTTLE_OFFLINE_MESSAGE", "20/hour"),
    },
    # How many proxies in front of us append to X-Forwarded-For. 0: the socket's address,
    # so a client cannot pick a fresh throttle bucket by sending its own header.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Contact center API",
    "DESCRIPTION": (
        "Chat sessions, agents and service settings of the contact center desk. "
        "Staff and agents authenticate with `Authorization: Token <key>` (from "
        "`POST /api/auth/token/`) or the browser session cookie plus CSRF header; a customer "
        "sends `X-Customer-Token` on its own session's endpoints. Every error is "
        '`{"detail", "code"}`; validation errors add `field`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SessionStateEnum": "sessions_app.models.SessionState",
        "AgentStatusEnum": ["online", "away", "offline"],
        "HealthCheckEnum": ["ok", "down"],
        "DeliveryStatusEnum": ["pending", "delivered", "failed"],
        # A Session's state as the schema always named it, now that the wallboard's waiting
        # chats have a `state` of their own.
        "StateEnum": ["queued", "offered", "active", "ended"],
        "WaitingStateEnum": ["queued", "offered"],
    },
}

CACHES = {
    "default": {
        "BACKEND": "contactcenter.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_PREFIX}:cache",
        "OPTIONS": {"pool_class": "contactcenter.cache.SharedConnectionPool"},
    }
}

# Production hardening, switched on by flag so a laptop over plain HTTP still works.
SECURE_HTTPS = env_bool("SECURE_HTTPS", False)
if SECURE_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Pages elsewhere that may open the desk's sockets (whole origins: scheme://host[:port]); the
# desk's own origin always may (core/origin.py).
WS_ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS", "")
# Sites that may embed the chat with the widget (static/desk-widget.js): whole origins
# (scheme://host[:port]); they become the chat page's `frame-ancestors`. Empty: no site may.
WIDGET_ALLOWED_ORIGINS = env_list("WIDGET_ALLOWED_ORIGINS", "")
# Hours an API token lasts from its issue (0: until logout or a password change).
API_TOKEN_TTL_HOURS = float(os.environ.get("API_TOKEN_TTL_HOURS", "0") or 0)
# The pages load scripts, styles, images and sockets from the desk itself only, and have no
# inline script: a script injected into a page does not run. (The widget's frame-ancestors
# come with its own setting.)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "media-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
PERMISSIONS_POLICY = STATIC_PERMISSIONS_POLICY
# A request body larger than this is refused with 413 before it is read (core/bodylimit.py).
MAX_REQUEST_BYTES = int(os.environ.get("MAX_REQUEST_BYTES", str(1024 * 1024)))

# Attachments: at most this many bytes each; the upload path's body limit leaves room for the
# multipart envelope around it (core/bodylimit.py).
ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
UPLOAD_PATH_PREFIX = "/api/sessions/"
UPLOAD_PATH_SUFFIX = "/attachments/"
# Files go through Django's storage API: under MEDIA_ROOT by default, or an S3-compatible
# bucket (django-storages; install boto3) when ATTACHMENT_S3_BUCKET is set. They are never
# served from a public URL: every download goes through the access check
# (sessions_app/api.py, AttachmentView).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
_attachment_bucket = os.environ.get("ATTACHMENT_S3_BUCKET", "")
if _attachment_bucket:
    _attachment_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _attachment_bucket,
            "endpoint_url": os.environ.get("ATTACHMENT_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("ATTACHMENT_S3_REGION") or None,
            "access_key": os.environ.get("ATTACHMENT_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("ATTACHMENT_S3_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "file_overwrite": False,
        },
    }
else:
    _attachment_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT / "attachments"), "base_url": None},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": _attachment_storage,
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# LOG_FORMAT=json: one JSON object per line, with session_id on every line about a session.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "contactcenter.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The timer sweep runs every few seconds: its "received"/"succeeded"/"sending due task"
        # lines would drown everything else. Sweeps that resolve something log it themselves.
        "celery.app.trace": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "WARNING")},
        "celery.worker.strategy": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "WARNING")},
        "celery.beat": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "WARNING")},
        # One line per webhook request: the delivery log (admin) says what happened instead.
        "httpx": {"level": "WARNING"},
        "celery.worker.request": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "WARNING")},
    },
}
