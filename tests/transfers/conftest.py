"""Fixtures of the transfer core tests: a store on SQLite and on the real PostgreSQL, a clock the
test moves, the service over the repository's rules, and spec samples as feed messages."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from runner.project import REPO_ROOT
from runner.stamp import new_message_id
from runner.stores import Database
from runner.transfers import RuleSet, TransferService, load_rules
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS
from tests.runner.stores import conftest as stores

store_url = stores.store_url  # the stores' fixtures: an empty store on each backend
db = stores.db

RULES_DIR = REPO_ROOT / "routes" / "transfer-rules"
SYSTEMS = SPECS / "systems"


class Clock:
    """A clock the test sets; every ``TransferService`` of a test reads it."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, text: str) -> None:
        """Move to an ISO time (+08:00 when no zone is given)."""
        at = dt.datetime.fromisoformat(text)
        self.now = at if at.tzinfo else at.replace(tzinfo=SHANGHAI)


def sample(path: str, index: int = 0, **changes: Any) -> dict[str, Any]:
    """A spec sample's canonical envelope as it comes off a feed (with a fresh message id).

    ``changes`` set payload fields (e.g. ``transfer_id``) and the envelope's case code with them.
    """
    data = json.loads((SYSTEMS / path).read_text(encoding="utf-8"))
    envelope = copy.deepcopy(data[index] if isinstance(data, list) else data)
    envelope["message_id"] = new_message_id()
    envelope["payload"].update(changes)
    if "case_code" in changes:
        envelope["case_code"] = changes["case_code"]
    return dict(envelope)


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """The repository's threshold rules (they must load without a problem)."""
    loaded = load_rules(RULES_DIR)
    assert not loaded.issues, [str(i) for i in loaded.issues]
    return loaded


@pytest.fixture
def clock() -> Clock:
    """Starts at 2025-06-03 15:00 +08:00 (the day of the eco_env hazardous-waste case)."""
    return Clock(dt.datetime(2025, 6, 3, 15, 0, tzinfo=SHANGHAI))


@pytest.fixture
def make_service(rules: RuleSet, clock: Clock) -> Callable[[Database], TransferService]:
    """Builds a service over a database (a second one stands for another process)."""
    return lambda database: TransferService(database, rules, clock=clock, ledger_key=b"k" * 32)


@pytest.fixture
def service(db: Database, make_service: Callable[[Database], TransferService]) -> TransferService:
    """The service over the test's store."""
    return make_service(db)
