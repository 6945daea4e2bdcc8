"""Money transforms: yuan, 万元 and 分 to an exact amount in yuan."""

from __future__ import annotations

from typing import Any

from runner.mapping.transforms._base import NoParams, _money, register
from schemas.money import fen_to_yuan, to_yuan, wan_yuan_to_yuan


@register("yuan")
def _yuan(value: Any, _: NoParams) -> Any:
    """An amount in yuan, exactly two places."""
    return None if value is None else _money(to_yuan, value)


@register("wan_yuan")
def _wan_yuan(value: Any, _: NoParams) -> Any:
    """万元 (ten-thousand yuan) to yuan, exactly: ``"3.8"`` → ``38000.00``."""
    return None if value is None else _money(wan_yuan_to_yuan, value)


@register("fen")
def _fen(value: Any, _: NoParams) -> Any:
    """分 (fen) to yuan, exactly: ``3800000`` → ``38000.00``."""
    return None if value is None else _money(fen_to_yuan, value)
