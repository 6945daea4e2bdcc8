"""YAML loading that remembers where each key stood, so config errors can name file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["LineDict", "load_yaml", "where"]


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows the line (1-based) of each key and of itself."""

    line: int = 0
    path: Path | None = None
    lines: dict[str, int]

    def key_line(self, key: str) -> int:
        """The line of ``key``, or of the mapping when the key is absent."""
        return self.lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[str(key)] = loader.construct_object(value_node, deep=True)
        out.lines[str(key)] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _attach(data: Any, path: Path) -> None:
    if isinstance(data, LineDict):
        data.path = path
        for value in data.values():
            _attach(value, path)
    elif isinstance(data, list):
        for item in data:
            _attach(item, path)


def load_yaml(path: Path) -> Any:
    """Load one YAML file; mappings come back as ``LineDict`` with their lines and path."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a SafeLoader subclass
    _attach(data, path)
    return data


def where(node: Any, key: str | None = None) -> str:
    """``path:line`` of a YAML node (and of one of its keys), for error messages."""
    if isinstance(node, LineDict):
        line = node.key_line(key) if key else node.line
        return f"{node.path}:{line}"
    return "?"
