"""What a bus process opens for its adapters: connections with the stores every process
shares, each ``Services`` its own."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from adapters._testkit import kit_adapter
from runner.adapter_api import Outgoing, RawMessage, SharedStores
from runner.engine.services import Services
from runner.project import load_project
from runner.registry import Registry
from runner.settings import Settings
from runner.stores.gates import SharedGateStore
from runner.stores.tokens import SharedTokenStore


class Link:
    """A connection that remembers the stores it was opened with."""

    def __init__(self, stores: SharedStores | None) -> None:
        self.stores = stores

    def send(self, call: Outgoing) -> RawMessage:
        return RawMessage(b"{}", {}, {"status": "200"})

    def close(self) -> None:
        """Nothing to release."""


def _services(tmp_path: Path, name: str, **hooks: Any) -> Services:
    adapter = dataclasses.replace(kit_adapter(None, "sharing"), **hooks)
    project = load_project(tmp_path, Registry([adapter]))
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/{name}-broker.db",
        store=f"sqlite:///{tmp_path}/{name}-store.db",
        systems={"sharing": {"endpoint": "http://127.0.0.1:9"}},
    )
    return Services.open(project, settings)


def test_the_runtime_opens_a_connection_with_its_shared_stores(tmp_path: Path):
    hooks = {"connect": lambda _config: Link(None), "connect_shared": lambda _c, s: Link(s)}
    first = _services(tmp_path, "a", **hooks)
    second = _services(tmp_path, "b", **hooks)  # two in one process: each keeps its own
    try:
        assert getattr(second.connection("sharing"), "stores", None) is second.shared
        second.close()  # the other's closing takes nothing from the first
        link = first.connection("sharing")
        assert isinstance(link, Link)
        assert link.stores is first.shared
        assert isinstance(first.shared.tokens, SharedTokenStore)
        assert isinstance(first.shared.gates, SharedGateStore)
        assert first.shared.tokens.read("k" * 64).version == 0  # its database is open
        first.shared.gates.hold("k" * 64, dt.datetime.now(dt.UTC))
    finally:
        first.close()


def test_an_adapter_without_shared_state_connects_as_before(tmp_path: Path):
    services = _services(tmp_path, "a", connect=lambda _config: Link(None))
    try:
        link = services.connection("sharing")
        assert isinstance(link, Link)
        assert link.stores is None
    finally:
        services.close()
