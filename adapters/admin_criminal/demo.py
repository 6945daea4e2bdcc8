"""admin_criminal in ``make demo``: the police side answering transfers over the real RabbitMQ.

The police side (``PoliceSide``) runs on the local RabbitMQ (127.0.0.1:5672, guest/guest) under
names unique to the run, deleted when the demo stops. Its script, one message every
``STEP_S`` seconds:

- the spec's twelve signed answer samples (签收回执, 立案, 不予立案, 复议, 转送, 反向移送), each a
  delta on the case_transfer feed;
- a receipt published three times (quirk Q2: taken once, nothing forwarded twice);
- an answer from the old county gateway (UTF-8 BOM, CRLF pretty-print, text/plain: taken);
- four bad ones: a forged signature (``bad_signature``) and a truncated body
  (``malformed_json``) refused by the poller before anything is stored, an unknown type
  (``unknown_msg_type``), and a 复议 that files without its filing number, refused by the
  mapping (``required``).

Without a reachable RabbitMQ the system sits the demo out (its poller's failures are logged).
"""

from __future__ import annotations

import functools
import json
import socket
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from adapters.admin_criminal import SPEC, AdminCriminalConfig
from adapters.admin_criminal._poll import close_links
from adapters.admin_criminal.simulator import PoliceSide
from runner.adapter_api import DemoSystem, SystemCounts

__all__ = ["DEMO", "STEP_S", "AdminCriminalDemo"]

STEP_S = 0.4
_PACKAGE = {
    "transferNo": "YS-350322-2025-0009",
    "caseCode": "FJ3503222025SC3B8E11A0",
    "fromAgency": {"divisionCode": "350322"},
    "toOrgan": {"name": "仙游县公安局"},
    "suspectedOffence": "生产、销售伪劣产品罪",
}


def _samples() -> Path:
    from runner.specs import specs_dir  # noqa: PLC0415  (the demo runs inside the repository)

    return specs_dir() / "systems" / "admin_criminal" / "samples"


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), 1.0).close()
    except OSError:
        return False
    return True


class AdminCriminalDemo:
    """The police side and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self._names = {
            "exchange": f"demo.{tag}.xx.transfer",
            "receipts_queue": f"demo.{tag}.xx.receipts.fjzf",
            "poll_interval_s": 1.0,
        }
        self.config = AdminCriminalConfig.model_validate({**SPEC.demo_config, **self._names})
        self.online = _reachable(self.config.host, self.config.port)
        self.police = PoliceSide(self.config, auto_receipt=False)
        self.good = 0
        self._played = 0
        self._script = self._build_script() if self.online else []
        if self.online:
            self.police.start()

    def _build_script(self) -> list[tuple[str, Callable[[], object]]]:
        samples = sorted(
            p for p in _samples().glob("*-[0-9].json") if not p.name.startswith("transfer_package")
        )
        script: list[tuple[str, Callable[[], object]]] = [
            (f"sample {p.stem}", functools.partial(self.police.publish_sample, p)) for p in samples
        ]
        fyjd = json.loads((_samples() / "reconsideration_decision-2.json").read_bytes())
        fyjd |= {"msgId": "GA350521-20250424-000999"}
        fyjd.pop("filingNo")
        police = self.police
        script[3:3] = [
            (
                "a receipt published three times (Q2)",
                lambda: police.answer("receipt_signed", _PACKAGE, copies=3),
            ),
            (
                "a forged signature",
                lambda: police.answer("filing_decision", _PACKAGE, faults=("bad_signature",)),
            ),
        ]
        script[9:9] = [
            (
                "the old county gateway: BOM, CRLF, text/plain (Q6)",
                lambda: police.answer("non_filing_decision", _PACKAGE, faults=("old_gateway",)),
            ),
            (
                "a truncated body",
                lambda: police.answer("forward_notice", _PACKAGE, faults=("malformed",)),
            ),
            (
                "an unknown message type",
                lambda: police.answer("filing_decision", _PACKAGE, faults=("unknown_type",)),
            ),
            ("a 复议 that files without its filing number", lambda: police.publish_answer(fyjd)),
        ]
        self.good = len(samples) + 2
        return script

    @property
    def settings(self) -> Mapping[str, object]:
        """The run's unique exchange and queue names, and a short poll interval."""
        return self._names

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The four bad answers, by rule."""
        if not self.online:
            return {}
        return {"bad_signature": 1, "malformed_json": 1, "unknown_msg_type": 1, "required": 1}

    def intro(self) -> list[str]:
        """What the police side will do."""
        if not self.online:
            return ["RabbitMQ is not reachable at 127.0.0.1:5672: admin_criminal sits this out"]
        return [
            f"police side on RabbitMQ: {len(self._script)} signed answers (12 spec samples, a "
            "triple resend, the old gateway) incl. a forged signature, a truncated body, an "
            "unknown type and a 复议 without its filing number"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Publish what is due."""
        notes: list[str] = []
        while self._played < len(self._script) and elapsed_s >= 1.0 + self._played * STEP_S:
            what, publish = self._script[self._played]
            publish()
            self._played += 1
            if not what.startswith("sample"):
                notes.append(f"admin_criminal: police side publishes {what}")
        return notes

    def finished(self) -> bool:
        """Everything published and taken off the receipts queue."""
        if not self.online:
            return True
        return self._played == len(self._script) and self.police.depth() == 0

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good answer mapped once; the refused ones are in the police DLQ too."""
        if not self.online:
            return []
        problems = []
        if counts.mapped != self.good:
            problems.append(f"admin_criminal: {counts.mapped} answers mapped, expected {self.good}")
        refused = self.police.dead_lettered()
        if refused != 3:
            problems.append(f"admin_criminal: {refused} answers in the police DLQ, expected 3")
        return problems

    def stop(self) -> None:
        """Close the bus's links and remove the run's exchange and queues."""
        close_links()
        if self.online:
            self.police.stop()


DEMO = DemoSystem(system="admin_criminal", start=AdminCriminalDemo)
