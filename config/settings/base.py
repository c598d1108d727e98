"""Settings shared by every environment. Values that vary come from ``config.env``."""

from __future__ import annotations

from config.env import (
    BASE_DIR,
    VAR_DIR,
    embedded_broker_url,
    embedded_database_url,
    embedded_result_backend,
    ensure_var_dir,
    env,
)

ensure_var_dir()

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "apps.core",
    "apps.accounts",
    "apps.connections",
    "apps.connectors",
    "apps.syncs",
    "apps.runs",
    "apps.dlq",
    "apps.dashboard",
    "apps.demo",
    "apps.engine",
    "apps.api",
    "apps.audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "apps.dashboard.context_processors.workspace",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=embedded_database_url())}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web server and the worker share the embedded database.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "apps.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.api.schema.ApiAutoSchema",
}
# The OpenAPI schema (GET /api/reverse-etl/openapi.json) and docs page (…/docs), served without
# any CDN: Swagger UI comes from drf-spectacular-sidecar's static files.
SPECTACULAR_SETTINGS = {
    "TITLE": "Syncline reverse ETL API",
    "DESCRIPTION": (
        "Sync warehouse rows into SaaS tools, ads platforms and HTTP endpoints. Every route also answers "
        "under /v1/api/reverse-etl/. Request bodies are camelCase (snake_case accepted too); responses "
        'are snake_case. Errors are always `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PUBLIC": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/reverse-etl/",
    "PREPROCESSING_HOOKS": ["apps.api.schema.only_this_api"],
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "apps.runs.models.RunStatus.values",
        "RunTriggerEnum": "apps.runs.models.RunTrigger.values",
        "SyncStatusEnum": "apps.syncs.models.SyncStatus.values",
        "ConnectionStatusEnum": "apps.connections.models.ConnectionStatus.values",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl null: Swagger UI would otherwise load a badge from an external validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "validatorUrl": None},
}
SYNCLINE_API_RATE_LIMIT_PER_MINUTE = env.int("SYNCLINE_API_RATE_LIMIT_PER_MINUTE", default=600)

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=embedded_broker_url())
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=embedded_result_backend())
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: a folder of message files that the web server, the worker and the
    # tick all see. One folder for in and out, so producers and consumers meet.
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    for _d in (_queue_dir, _processed_dir):
        _d.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "store_processed": False,
    }
# One beat entry drives every schedule: the tick reads Sync.next_run_at (see apps/syncs/scheduler).
SYNCLINE_TICK_SECONDS = env.float("SYNCLINE_TICK_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE = {
    "syncline-scheduler-tick": {"task": "syncs.scheduler_tick", "schedule": SYNCLINE_TICK_SECONDS},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")

# --- Syncline ----------------------------------------------------------------------------
SYNCLINE_VAR_DIR = VAR_DIR
SYNCLINE_SANDBOX_DIR = VAR_DIR / "sandbox"
SYNCLINE_DEMO_WAREHOUSE = VAR_DIR / "data" / "demo_warehouse.duckdb"
# The only directories whose files connections may name: DuckDB and SQLite sources, the folders a
# DuckDB source reads Parquet/CSV from, sandbox destinations. Anything else on the server — the
# app database, the change-detection state, other workspaces' files — is out of reach of a
# connection's config. Comma-separated absolute paths.
SYNCLINE_DATA_DIRECTORIES = env.list("SYNCLINE_DATA_DIRECTORIES", default=[]) or [
    str(VAR_DIR / "data"),
    str(SYNCLINE_SANDBOX_DIR),
]
SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = env.bool("SYNCLINE_ALLOW_PRIVATE_DESTINATIONS", default=False)
SYNCLINE_REDIS_URL = env.str("SYNCLINE_REDIS_URL", default="")
# Where change-detection state lives: "file" (DuckDB files under var/state/, one machine only) or
# "database" (the app database, reachable by every worker). Default: file on the embedded SQLite
# stack, database as soon as DATABASE_URL points at a server.
SYNCLINE_STATE_STORE = env.str(
    "SYNCLINE_STATE_STORE",
    default="file" if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else "database",
)
# Per-key API rate limits (and other shared counters) live in this cache: process memory in the
# embedded product, Redis when SYNCLINE_REDIS_URL is set so every web process shares the count.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": SYNCLINE_REDIS_URL}
        if SYNCLINE_REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "syncline"}
    )
}
# A running run whose heartbeat is older than this is marked failed by the sweeper.
SYNCLINE_RUN_HEARTBEAT_TIMEOUT = env.int("SYNCLINE_RUN_HEARTBEAT_TIMEOUT", default=90)
# DuckDB buffer memory of a run's workbench (staging, diff); past it, DuckDB spills to var/engine/.
# 96 MB keeps a 5M-row sync under 500 MB peak RSS (bench/sync_memory.py) at no cost in speed.
SYNCLINE_ENGINE_MEMORY_LIMIT = env.str("SYNCLINE_ENGINE_MEMORY_LIMIT", default="96MB")
SYNCLINE_MAX_RETRIES = env.int("SYNCLINE_MAX_RETRIES", default=5)
# First backoff step in seconds (doubles per retry, full jitter, capped at SYNCLINE_RETRY_MAX_DELAY)
SYNCLINE_RETRY_BASE_DELAY = env.float("SYNCLINE_RETRY_BASE_DELAY", default=0.5)
SYNCLINE_RETRY_MAX_DELAY = env.float("SYNCLINE_RETRY_MAX_DELAY", default=60.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request with its full URL at INFO; URLs can carry secrets.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
