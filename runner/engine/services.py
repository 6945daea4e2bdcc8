"""What every worker shares: the compiled project, the bus, the stores, adapter configs and
connections, opened once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from runner.adapter_api import AdapterConfig, Connection, SharedStores
from runner.bus import Bus, open_bus
from runner.errors import ConfigError
from runner.project import Project
from runner.settings import Settings
from runner.stores.audit import AuditStore
from runner.stores.cursors import CursorStore
from runner.stores.db import Database
from runner.stores.dead_letters import DeadLetterStore
from runner.stores.gates import SharedGateStore
from runner.stores.idempotency import IdempotencyStore
from runner.stores.sequences import SequenceStore
from runner.stores.tokens import SharedTokenStore

__all__ = ["Services"]


@dataclass
class Services:
    """The shared state of one bus process."""

    project: Project
    settings: Settings
    bus: Bus
    db: Database
    audit: AuditStore
    dead_letters: DeadLetterStore
    idempotency: IdempotencyStore
    cursors: CursorStore
    sequences: SequenceStore
    shared: SharedStores
    """One token per client and one wait per throttled key, shared with every other process
    on this store (``AdapterSpec.connect_shared``)."""
    _configs: dict[str, AdapterConfig] = field(default_factory=dict)
    _connections: dict[str, Connection] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, project: Project, settings: Settings) -> Services:
        """Open the bus and the stores named by ``settings``."""
        db = Database.open(settings.store)
        return cls(
            project=project,
            settings=settings,
            bus=open_bus(settings.bus),
            db=db,
            audit=AuditStore(db),
            dead_letters=DeadLetterStore(db),
            idempotency=IdempotencyStore(db),
            cursors=CursorStore(db),
            sequences=SequenceStore(db),
            shared=SharedStores(SharedTokenStore(db), SharedGateStore(db)),
        )

    def config(self, system: str) -> AdapterConfig:
        """The validated config of ``system`` (``ConfigError`` when it is not connected)."""
        with self._lock:
            if system not in self._configs:
                raw: dict[str, Any] | None = self.settings.systems.get(system)
                if raw is None:
                    raise ConfigError(f"system '{system}' is not configured in the settings")
                adapter = self.project.registry.get(system)
                self._configs[system] = adapter.config.model_validate(raw)
            return self._configs[system]

    def connection(self, system: str) -> Connection:
        """The open connection to ``system`` (opened on first use)."""
        config = self.config(system)
        with self._lock:
            if system not in self._connections:
                adapter = self.project.registry.get(system)
                if adapter.connect_shared is not None:
                    self._connections[system] = adapter.connect_shared(config, self.shared)
                elif adapter.connect is not None:
                    self._connections[system] = adapter.connect(config)
                else:
                    raise ConfigError(f"adapter '{system}' cannot connect (no connect hook)")
            return self._connections[system]

    def close(self) -> None:
        """Close connections, the bus and the stores."""
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()
        self.bus.close()
        self.db.close()
