"""Every store test runs twice: on a SQLite file and on the real PostgreSQL.

The PostgreSQL variant gets a fresh schema per test (``ebus_test_<random>``, chosen through the
URL's ``search_path``) and drops it afterwards. When PostgreSQL is unreachable the variant is
skipped locally but fails when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from runner.stores import Database
from runner.stores.db import display_url

POSTGRES_URL = os.environ.get(
    "EBUS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A store URL pointing at a new empty schema, dropped on exit."""
    schema = f"ebus_test_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            raise
        reason = str(exc.orig).splitlines()[0]
        pytest.skip(f"PostgreSQL unreachable at {display_url(POSTGRES_URL)} ({reason}); CI fails")
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'ebus.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    """An open store with its tables, closed after the test."""
    with Database.open(store_url) as database:
        yield database
