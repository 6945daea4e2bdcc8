"""Run repository routes that start from a canonical feed through the runtime, on the embedded
bus (SQLite broker and store in a temporary folder), against one system's simulator.

The config root holds the system's mappings and code tables and the named routes exactly as
the repository has them; canonical envelopes go onto their feed as the platform publishes
them. Used by the route tests of two_laws, eco_env and drug_admin.

Example::

    with FeedRun(tmp_path, SPEC, ["eco_env-joint-tasks"], config) as run:
        ids = run.publish([envelope])
        run.wait(lambda: len(simulator.tasks) == 1)
        assert run.destinations(ids[0]) == [["eco_env-joint-tasks/eco_env-push_joint_task"]]
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from runner.adapter_api import AdapterSpec
from runner.bus.topology import feed_target
from runner.engine.codec import encode_envelope
from runner.engine.runtime import Runtime
from runner.engine.services import Services
from runner.project import REPO_ROOT, load_project
from runner.registry import Registry
from runner.settings import Settings
from runner.stamp import new_message_id, stamp
from runner.stores.audit import AuditRecord
from schemas import parse_envelope
from schemas.timeutil import SHANGHAI
from tests.runner.engine.conftest import wait_for


def _config_root(root: Path, system: str, routes: Sequence[str]) -> Path:
    shutil.copytree(REPO_ROOT / "mappings" / system, root / "mappings" / system)
    codes = REPO_ROOT / "mappings" / "codes" / system
    if codes.exists():
        shutil.copytree(codes, root / "mappings" / "codes" / system)
    (root / "routes").mkdir()
    for route in routes:
        shutil.copy(REPO_ROOT / "routes" / f"{route}.yaml", root / "routes")
    return root


class FeedRun:
    """The runtime of one system with the named routes; a context manager."""

    def __init__(
        self, tmp_path: Path, spec: AdapterSpec, routes: Sequence[str], config: Mapping[str, Any]
    ) -> None:
        project = load_project(_config_root(tmp_path / "config", spec.id, routes), Registry([spec]))
        assert project.issues == []
        assert sorted(project.routes) == sorted(routes)
        settings = Settings(
            bus=f"sqlite:///{tmp_path}/broker.db",
            store=f"sqlite:///{tmp_path}/store.db",
            systems={spec.id: dict(config)},
            poll=False,
        )
        self.services = Services.open(project, settings)
        self.runtime = Runtime(self.services)

    def __enter__(self) -> FeedRun:
        self.runtime.prepare()
        self.runtime.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.runtime.shutdown()
        self.services.close()

    def publish(self, drafts: Sequence[Mapping[str, Any]]) -> list[str]:
        """Stamp canonical envelope drafts and put each on its feed; their message ids."""
        received = dt.datetime.now(SHANGHAI)
        ids = []
        for data in drafts:
            draft = parse_envelope(dict(data), draft=True)
            envelope = stamp(draft, message_id=new_message_id(received), received_at=received)
            self.services.bus.publish(
                feed_target(envelope.schema_name), [encode_envelope(envelope)]
            )
            ids.append(envelope.message_id)
        return ids

    def events(self, message_id: str, kind: str) -> list[AuditRecord]:
        """The audit records of ``kind`` about ``message_id``."""
        return [r for r in self.services.audit.trace(message_id) if r.kind == kind]

    def destinations(self, message_id: str) -> list[Any]:
        """Where each route that read ``message_id`` sent it (``route/key`` lists)."""
        return [r.detail["to"] for r in self.events(message_id, "routed")]

    def wait(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Until ``condition`` holds (the test fails after ``timeout`` seconds)."""
        wait_for(condition, timeout)
