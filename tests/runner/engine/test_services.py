"""What a bus process opens for its adapters: the shared stores, bound while it runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from adapters._testkit import kit_adapter
from runner.adapter_api import SharedStores
from runner.engine.services import Services
from runner.project import load_project
from runner.registry import Registry
from runner.settings import Settings
from runner.stores.gates import SharedGateStore
from runner.stores.tokens import SharedTokenStore


def test_configured_adapters_get_the_token_store_while_the_process_runs(tmp_path: Path):
    bound: list[object] = []
    sharing = dataclasses.replace(kit_adapter(None, "sharing"), bind_shared=bound.append)
    unconfigured = dataclasses.replace(kit_adapter(None, "idle"), bind_shared=bound.append)
    project = load_project(tmp_path, Registry([sharing, unconfigured]))
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/broker.db",
        store=f"sqlite:///{tmp_path}/store.db",
        systems={"sharing": {"endpoint": "http://127.0.0.1:9"}},
    )
    services = Services.open(project, settings)
    try:
        (stores,) = bound
        assert isinstance(stores, SharedStores)
        assert isinstance(stores.tokens, SharedTokenStore)
        assert isinstance(stores.gates, SharedGateStore)
    finally:
        services.close()
    assert bound[1:] == [None]  # unbound when the process's services close
