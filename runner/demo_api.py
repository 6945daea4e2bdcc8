"""What an adapter provides to take part in ``make demo`` (re-exported by the adapter API).

An adapter joins the demo with one module, ``adapters/<id>/demo.py``, exporting
``DEMO = DemoSystem(system, start)``; production code never imports it, so simulators never
load in a real deployment.

Besides the demo's own types it re-exports the little a demo needs of the rest of the runner, so
that an adapter's ``demo.py`` imports only ``runner.adapter_api`` and ``runner.demo_api``:

- ``specs_dir``: where the interface specifications (and so their samples) are;
- ``Database``, ``TransferService``, ``RuleSet``, ``TransferPackage``, ``EvidenceFile``: for a
  peer that also plays the officers of ``ebus transfers`` (``bind_services``), e.g.
  ``TransferService(services.db, RuleSet())`` approves and sends a transfer as
  ``ebus transfers approve`` / ``send`` do. These load on first use, not with this module: the
  adapter API imports this module, and an adapter should not pull in the store and the transfer
  core.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runner.specs import specs_dir

if TYPE_CHECKING:
    from runner.stores.db import Database
    from runner.transfers import EvidenceFile, RuleSet, TransferPackage, TransferService

__all__ = [
    "Database",
    "DemoPeer",
    "DemoSystem",
    "EvidenceFile",
    "RuleSet",
    "SystemCounts",
    "TransferPackage",
    "TransferService",
    "specs_dir",
]

_ON_FIRST_USE = {
    "Database": "runner.stores.db",
    "EvidenceFile": "runner.transfers",
    "RuleSet": "runner.transfers",
    "TransferPackage": "runner.transfers",
    "TransferService": "runner.transfers",
}
"""The re-exports imported on first use, and the module each comes from."""


def __getattr__(name: str) -> Any:
    """Import a re-export of ``_ON_FIRST_USE`` when it is first asked for (PEP 562)."""
    home = _ON_FIRST_USE.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


@dataclass
class SystemCounts:
    """What the audit store says happened with one system so far.

    ``received`` and ``mapped`` are about messages from the system (wire messages taken in;
    distinct canonical messages made from them), ``delivered`` and ``retried`` about calls to it
    (distinct messages delivered; retry attempts), ``dead_lettered`` about either (rejected on
    the way in, or given up on the way out). ``duplicates`` are re-read messages recognised by
    their source message id.
    """

    received: int = 0
    mapped: int = 0
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    duplicates: int = 0

    def row(self) -> tuple[int, ...]:
        """The values of the progress table's columns, in order."""
        return (self.received, self.mapped, self.delivered, self.retried, self.dead_lettered)


class DemoPeer(Protocol):
    """A running simulator with its scripted traffic, as ``DemoSystem.start`` returns it.

    Optional hooks, called once the runtime is prepared and before it starts (``runner.demo``
    looks them up by name; a peer without one is not asked):

    - ``bind(url)``: a peer that pushes learns where the bus's webhook endpoint listens;
    - ``bind_batch(batch)``: a ``runner.demo.DemoBatch``, the platform's side of the feeds
      (``publish``) and the runtime's batch path (``run``, as ``ebus batch run``);
    - ``bind_services(services)``: the runtime's ``runner.engine.services.Services`` (bus,
      store, project, settings), for a peer that also plays an operator of the bus, e.g. an
      officer recording ``ebus transfers approve`` / ``send`` on the store the runtime uses.
    """

    @property
    def settings(self) -> Mapping[str, object]:
        """Settings of the system laid over the adapter's ``demo_config`` (endpoint, intervals)."""
        ...

    @property
    def expected_dead_letters(self) -> Mapping[str, int | range]:
        """Rule → how many dead letters of this system the scripted bad messages must give;
        a ``range`` where the count depends on the other systems' traffic (e.g. records of other
        systems a destination's catalogue does not cover)."""
        ...

    def intro(self) -> list[str]:
        """A line or two on what this system will do during the demo."""
        ...

    def tick(self, elapsed_s: float) -> list[str]:
        """Play the script up to ``elapsed_s`` seconds after the start; lines to narrate."""
        ...

    def finished(self) -> bool:
        """True once all scripted traffic is out and the bus has had its chance to take it."""
        ...

    def check(self, counts: SystemCounts) -> list[str]:
        """Problems seen from the simulator's side at the end (e.g. records missing)."""
        ...

    def stop(self) -> None:
        """Stop the simulator."""
        ...


@dataclass(frozen=True)
class DemoSystem:
    """One system's part in the demo; an adapter exports it as ``adapters.<id>.demo:DEMO``."""

    system: str
    start: Callable[[], DemoPeer]
    """Start the simulator on a free loopback port and return it with its script."""
