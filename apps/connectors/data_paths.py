"""Server files a connection's config may name: only those inside ``SYNCLINE_DATA_DIRECTORIES``.

A DuckDB or SQLite source and a sandbox destination are configured with a path on the server. An
analyst or admin of one workspace must not be able to point one at the app database, the engine's
state files or another workspace's warehouse, so every such path is resolved (symlinks and ``..``
included) and refused unless it lies inside a configured data directory. It is checked when the
config is validated: when a connection is created or changed, and again each time a stored config
is loaded to run, so a config that predates a narrower setting fails with this message instead of
reading the file.
"""

from __future__ import annotations

import os

from django.conf import settings


def data_directories() -> list[str]:
    return [os.path.realpath(d) for d in settings.SYNCLINE_DATA_DIRECTORIES]


def check_data_path(value: str, *, what: str = "path") -> str:
    """``value`` if it names a file or folder inside a data directory (or one itself);
    ValueError naming the data directories if not."""
    if "\x00" in value or not os.path.isabs(value):
        raise ValueError(f"{what} must be an absolute path on the server, not {value!r}")
    if not _inside_data_directories(os.path.realpath(value)):
        raise ValueError(_outside(what, value))
    return value


def _inside_data_directories(real: str) -> bool:
    # os.path.commonpath, not a string prefix: /srv/data must not admit /srv/data-private.
    return any(os.path.commonpath([real, root]) == root for root in data_directories())


def _outside(what: str, value: str) -> str:
    allowed = ", ".join(settings.SYNCLINE_DATA_DIRECTORIES) or "(none configured)"
    return (
        f"{what} {value!r} is outside the server's data directories ({allowed}); put the file "
        "there, or have the operator add its directory to SYNCLINE_DATA_DIRECTORIES"
    )
