"""The state the bus shares between its processes, as the adapters' connections reach it.

A system whose limits hold per credential whoever calls — a token server that revokes the
previous token of a client (joint_punishment Q2), a gateway that locks a key after repeated
429s (12345) — needs every bus process to see one token and one wait. The runtime hands its
``SharedStores`` to each configured adapter that declares ``bind_shared=bind`` when a process
opens, and takes them back when it closes; ``bound()`` is what a connection built now should
use (None: this process alone, e.g. ``ebus render`` or a unit test)::

    SPEC = AdapterSpec(..., connect=open_connection, bind_shared=shared.bind)

    def open_connection(config):
        ...  # SharedTokens(shared.tokens(), ...), GatedConnection(..., shared=shared.gates())
"""

from __future__ import annotations

import threading

from runner.adapter_api import GateStore, SharedStores, TokenStore

__all__ = ["bind", "bound", "gates", "tokens"]

_lock = threading.Lock()
_bound: SharedStores | None = None


def bind(stores: SharedStores | None) -> None:
    """``AdapterSpec.bind_shared``: the process's shared stores (None when it closes)."""
    global _bound  # noqa: PLW0603 - the process's binding, set when its runtime opens
    with _lock:
        _bound = stores


def bound() -> SharedStores | None:
    """The shared stores bound now, None when no runtime is open in this process."""
    return _bound


def tokens() -> TokenStore | None:
    """The shared token store bound now, or None."""
    stores = _bound
    return None if stores is None else stores.tokens


def gates() -> GateStore | None:
    """The shared rate gates bound now, or None."""
    stores = _bound
    return None if stores is None else stores.gates
