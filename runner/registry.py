"""The adapter registry: system id → ``AdapterSpec``, found through entry points.

Adapters register in the ``ebus.adapters`` entry-point group, so the runner never imports one by
name and an adapter's heavy dependencies (zeep, kombu) load only when a route uses it. Tests
build their own ``Registry`` from specs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from importlib.metadata import entry_points

from runner.adapter_api import AdapterSpec
from runner.errors import ConfigError

__all__ = ["GROUP", "Registry", "default_registry"]

GROUP = "ebus.adapters"


class Registry:
    """Adapter specs by system id, loaded lazily from entry points or given directly."""

    def __init__(self, specs: Iterable[AdapterSpec] = (), *, discover: bool = False) -> None:
        self._loaded: dict[str, AdapterSpec] = {spec.id: spec for spec in specs}
        self._points = {ep.name: ep for ep in entry_points(group=GROUP)} if discover else {}

    def ids(self) -> list[str]:
        """Every known system id, sorted."""
        return sorted(set(self._loaded) | set(self._points))

    def __contains__(self, system: object) -> bool:
        return system in self._loaded or system in self._points

    def get(self, system: str) -> AdapterSpec:
        """The spec of ``system``; an unknown id raises ``ConfigError`` with a suggestion."""
        if system in self._loaded:
            return self._loaded[system]
        point = self._points.get(system)
        if point is None:
            close = difflib.get_close_matches(system, self.ids(), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown system '{system}'{hint}; known: {', '.join(self.ids())}")
        spec = point.load()
        if not isinstance(spec, AdapterSpec) or spec.id != system:
            raise ConfigError(f"entry point {point.value} is not the AdapterSpec of '{system}'")
        self._loaded[system] = spec
        return spec


def default_registry() -> Registry:
    """The registry of every installed adapter."""
    return Registry(discover=True)
