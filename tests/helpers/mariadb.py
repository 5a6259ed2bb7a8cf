"""The MariaDB (or MySQL) server the tests use: ``DINGSYNC_TEST_MARIADB_URL`` (default the local
server as root, database ``dingsync_test``). :func:`fresh_mariadb_url` drops and creates that
database; without a server the caller skips with the reason, except under ``CI=true`` (where
``.ci/run`` has started it) when a missing server is a failure."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

DEFAULT_MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/dingsync_test"


def mariadb_url() -> str:
    """``DINGSYNC_TEST_MARIADB_URL``, else :data:`DEFAULT_MARIADB_URL`."""
    return os.environ.get("DINGSYNC_TEST_MARIADB_URL", DEFAULT_MARIADB_URL)


def fresh_mariadb_url() -> str:
    """The test URL with its database dropped and created anew (``utf8mb4``). Skips the calling
    test when the driver is missing or the server does not answer (fails under ``CI=true``)."""
    url = mariadb_url()
    target = sa.engine.make_url(url)
    shown = target.render_as_string(hide_password=True)
    name = target.database
    assert name, f"no database name in {shown}"
    try:
        admin = sa.create_engine(target.set(database="mysql"), connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            quoted = name.replace("`", "``")
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{quoted}`"))
            conn.execute(
                sa.text(
                    f"CREATE DATABASE `{quoted}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
        admin.dispose()
    except Exception as exc:  # no driver, no server, no rights: "not available"
        problem = f"MariaDB server not reachable at {shown}: {exc.__class__.__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    return url
