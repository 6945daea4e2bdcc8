"""Code tables (代码表): the wire codes of a system and their canonical values.

A code table is a YAML file under ``mappings/codes/`` named by its path
(``mappings/codes/eco_env/case_source.yaml`` is table ``eco_env/case_source``)::

    description: T1 案件来源 CaseSource → case_source (eco_env README §5)
    values:
      "1": inspection     # 日常监督检查
      "4": report         # 举报

A code missing from its table rejects the message: a new code on the wire is a change of the
other side's spec, which a person must map.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.errors import ConfigError, MessageRejected

__all__ = ["CodeTable", "load_code_tables"]


@dataclass(frozen=True)
class CodeTable:
    """One code table: wire code → canonical value."""

    name: str
    values: dict[str, Any]
    description: str = ""
    path: Path | None = None

    def lookup(self, code: Any) -> Any:
        """The canonical value of ``code`` (None passes through); unknown codes are rejected."""
        if code is None:
            return None
        key = str(code).strip()
        if key not in self.values:
            raise MessageRejected(
                f"code '{key}' is not in code table {self.name}", rule="unknown_code"
            )
        return self.values[key]


def load_code_tables(root: Path) -> dict[str, CodeTable]:
    """Every code table under ``root`` (``mappings/codes``), by name."""
    tables: dict[str, CodeTable] = {}
    if not root.is_dir():
        return tables
    for path in sorted(root.rglob("*.yaml")):
        name = path.relative_to(root).with_suffix("").as_posix()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        values = data.get("values") if isinstance(data, dict) else None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}:1: code table has no 'values' mapping [code_table]")
        tables[name] = CodeTable(
            name=name,
            values={str(k): v for k, v in values.items()},
            description=str(data.get("description", "")),
            path=path,
        )
    return tables
