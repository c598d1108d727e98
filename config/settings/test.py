"""Test settings: the same stack as local, with fast password hashing.

DATABASE_URL and CELERY_BROKER_URL still come from the environment so CI can run the whole suite
a second time on PostgreSQL and Redis.
"""

from config.settings.local import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The test database is a file, not SQLite's in-memory default, so the real worker processes some
# tests start (Celery, runall) can open the same database as the test itself.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
