"""Helpers of the culture_tourism_national tests: samples, config, a job context with a day's
canonical messages (``day_messages``) and the project's outbound mapping (``render_document``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from adapters._simulators.polling import RecordingPollContext
from adapters.culture_tourism_national import SPEC, CultureTourismConfig
from runner.adapter_api import Outgoing, RawMessage
from runner.dryrun import DryRun, map_message
from runner.engine.archive import render_accepted
from runner.project import load_project
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS

SYSTEM = "culture_tourism_national"
SAMPLES = SPECS / "systems" / SYSTEM / "samples"
PROJECT = load_project()
SECRET = "Wl35@exch#2023test"
STAMPED = ("message_id", "causation_id", "occurred_at", "received_at")


def sample(name: str) -> bytes:
    """The bytes of a sample file."""
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    """A JSON sample."""
    return json.loads(sample(name))


def at(*parts: int) -> dt.datetime:
    """A Beijing time."""
    return dt.datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def signing_clock(stem: str) -> tuple[dt.datetime, str]:
    """The clock and nonce of a request sample (its ``.signing.json``)."""
    facts = sample_json(f"{stem}.signing.json")
    stamp = dt.datetime.strptime(facts["timestamp"], "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    return stamp, facts["nonce"]


def config(
    endpoint: str = "http://127.0.0.1:1/exchange/ProvinceExchangeService", **extra: Any
) -> CultureTourismConfig:
    """A config with the README's joint-test credentials."""
    return CultureTourismConfig.model_validate(
        {"endpoint": endpoint, "app_key": "FJWLT350000", "app_secret": SECRET, **extra}
    )


def mapped(message: str, body: bytes, meta: Mapping[str, str] | None = None) -> DryRun:
    """``body`` through the whole inbound path of ``message`` (prepare, mapping, validation)."""
    return map_message(PROJECT, SYSTEM, message, RawMessage(body=body, meta=dict(meta or {})))


def unstamped(result: DryRun) -> list[dict[str, Any]]:
    """The envelopes of a dry run without the fields the bus stamps."""
    return [
        {k: v for k, v in e.model_dump(mode="json").items() if k not in STAMPED}
        for e in result.envelopes
    ]


def render_document(
    envelopes: Sequence[Mapping[str, Any]], message: str = "upload_daily_package"
) -> bytes:
    """What the runtime's ``render_document`` gives: the outbound mapping's document of the
    envelopes the mapping accepts (and can render)."""
    return render_accepted(PROJECT.outbound_mapping(SYSTEM, message), envelopes).document


class DayContext(RecordingPollContext):
    """A recording job context with a live clock and the canonical messages of each day
    (``archive``, by received day)."""

    def __init__(
        self,
        send: Callable[[Outgoing], RawMessage],
        clock: Callable[[], dt.datetime],
        days: Mapping[dt.date, list[Mapping[str, Any]]] | None = None,
    ) -> None:
        super().__init__(
            send,
            now=clock(),
            archive=days,
            render=lambda message, envelopes: render_document(envelopes, message),
        )
        self._clock = clock

    @property  # type: ignore[override]
    def now(self) -> dt.datetime:
        """The live clock."""
        return self._clock()

    @now.setter
    def now(self, value: dt.datetime) -> None:
        pass


__all__ = [
    "PROJECT",
    "SAMPLES",
    "SPEC",
    "DayContext",
    "Path",
    "at",
    "config",
    "mapped",
    "render_document",
    "sample",
    "sample_json",
    "signing_clock",
    "unstamped",
]
