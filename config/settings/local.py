"""The embedded product that `make run` starts: development secrets generated once into var/."""

from config.env import dev_encryption_key, dev_secret_key, env
from config.settings.base import *  # noqa: F403

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="") or dev_secret_key()
SYNCLINE_ENCRYPTION_KEY = env.str("SYNCLINE_ENCRYPTION_KEY", default="") or dev_encryption_key()
