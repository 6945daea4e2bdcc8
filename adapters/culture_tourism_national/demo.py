"""culture_tourism_national in ``make demo``: the ministry's exchange service and the daily jobs.

The simulator is a real JAX-WS SOAP endpoint on loopback. The jobs run through the runtime's
batch path (``bind_batch``: the run ledger, the job's context, the day archive), as
``ebus batch run`` runs them, and what they emit goes through the bus like any inbound
message, so the progress table counts it:

- at ``PUBLISH_AT_S``: the platform publishes the spec's sample day (3 cases, 2 decisions of
  WL agencies) on the canonical feeds; the runtime archives them by received day (today);
- at ``BLACKLIST_AT_S``: the blacklist job for yesterday — four entries, one of them with a
  measure code outside W11 (dead-lettered alone), a person with a 15-digit ID number
  (upgraded);
- at ``CORRUPT_AT_S``: the blacklist of the day before arrives with a wrong ``sha256``: the
  whole download is dead-lettered and the run fails (a later run would retry it);
- at ``UPLOAD_AT_S``: the upload job for today (as its 01:30 run tomorrow would, the archive
  of the demo begins today): the package is built from the archived day, uploaded and its
  result polled — one decision is refused by the ministry (``PARTIAL``), dead-lettered with
  the ministry's code (``E103``).

Nothing personal is narrated (counts, states and batch ids only).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from adapters.culture_tourism_national._jobs import BLACKLIST_JOB, UPLOAD_JOB
from adapters.culture_tourism_national.simulator import CultureTourismSimulator
from runner.adapter_api import DemoSystem, SystemCounts
from runner.demo_api import specs_dir
from schemas.timeutil import SHANGHAI

__all__ = ["DEMO", "BatchRunner", "CultureTourismDemo", "RunOutcome"]

SYSTEM = "culture_tourism_national"
PUBLISH_AT_S = 0.5
BLACKLIST_AT_S = 1.0
CORRUPT_AT_S = 2.0
UPLOAD_AT_S = 3.0
_ENTRIES: tuple[dict[str, str], ...] = (
    {"entryId": "WLHMD-DEMO-000001", "listType": "1", "action": "A", "subjectType": "1",
     "name": "广州市天河区畅游国际旅行社有限公司", "creditCode": "91440106MA59K2B683",
     "legalRep": "梁家辉", "areaCode": "440106", "decisionOrg": "广东省文化和旅游厅",
     "decisionNo": "粤文旅失信〔2024〕3号", "decisionDate": "2024-03-04",
     "measures": "WLSC01;WLSC02;WLSC04", "eventTime": "2024-03-05 10:21:33"},
    {"entryId": "WLHMD-DEMO-000002", "listType": "2", "action": "A", "subjectType": "1",
     "name": "宁德市蕉城区星辰网吧", "creditCode": "９２３５０９０２ＭＡ３４Ｌ３Ｃ７２Ｎ",
     "legalRep": "null", "areaCode": "350902", "decisionOrg": "宁德市文化和旅游局",
     "decisionNo": "宁文旅关注〔2024〕1号", "decisionDate": "20240305", "measures": "WLSC03",
     "eventTime": "2024-03-05 15:02:47"},
    {"entryId": "WLHMD-DEMO-000003", "listType": "1", "action": "A", "subjectType": "2",
     "name": "郑一鸣", "idNo": "350502930411513", "decisionOrg": "福建省文化和旅游厅",
     "decisionNo": "闽文旅失信〔2024〕2号", "decisionDate": "2024-03-05",
     "measures": "WLSC01，WLSC04", "eventTime": "2024-03-05 17:40:05"},
    {"entryId": "WLHMD-DEMO-000004", "listType": "1", "action": "A", "subjectType": "1",
     "name": "泉州海丝文化传媒有限公司", "creditCode": "91350502MA2YH6X431",
     "decisionOrg": "泉州市文化和旅游局", "decisionNo": "泉文旅失信〔2024〕1号",
     "decisionDate": "2024-03-05", "measures": "WLSC01;WLSC99", "eventTime": "2024-03-05 18:00:00"},
)  # fmt: skip


class RunOutcome(Protocol):
    """What the demo tells of one job run (``runner.batch.runs.RunResult``)."""

    @property
    def state(self) -> str:
        """``success``, ``failed`` or ``skipped``."""
        ...

    @property
    def emitted(self) -> int:
        """Wire messages the run handed to the bus."""
        ...


class BatchRunner(Protocol):
    """What ``runner.demo`` gives this peer through ``bind_batch``."""

    def publish(self, envelopes: Sequence[Mapping[str, Any]], received_at: dt.datetime) -> None:
        """Put canonical envelopes on their feeds as received at ``received_at``."""
        ...

    def run(self, job: str, date: dt.date) -> RunOutcome:
        """Run batch job ``job`` (``<system>.<name>``) for ``date`` through the runtime."""
        ...


def _sample_day() -> list[Mapping[str, Any]]:
    path = specs_dir() / f"systems/{SYSTEM}/samples/upload_daily_package-1.input.json"
    return list(json.loads(path.read_bytes()))


class CultureTourismDemo:
    """The running simulator and the scripted job runs (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.simulator = CultureTourismSimulator(query_interval_s=0.0)
        self.simulator.start()
        today = self._today = dt.datetime.now(SHANGHAI).date()
        self._yesterday, self._before = today - dt.timedelta(days=1), today - dt.timedelta(days=2)
        self.simulator.set_blacklist(self._yesterday.strftime("%Y%m%d"), list(_ENTRIES))
        self.simulator.set_blacklist(self._before.strftime("%Y%m%d"), list(_ENTRIES[:1]))
        self.simulator.refuse_records["泉文执罚字〔2024〕第003号"] = "E103"
        self._batch: BatchRunner | None = None
        self._done: list[str] = []
        self.results: dict[str, str] = {}

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's endpoint."""
        return {"endpoint": self.simulator.endpoint}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """The blacklist entry with an unknown measure code, the corrupt download, and the
        decision the ministry refused in the package's result."""
        return {"unknown_code": 1, "sha256_mismatch": 1, "E103": 1}

    def bind_batch(self, batch: BatchRunner) -> None:
        """Take the demo's batch runner (called once the runtime is prepared)."""
        self._batch = batch

    def intro(self) -> list[str]:
        """What the jobs will do."""
        return [
            "national daily batch (SOAP, SM3-signed), run by the bus: blacklist download of "
            "yesterday (4 entries, 1 bad), a corrupt download (sha256), the package of "
            "today's archived cases and decisions uploaded and its result polled"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Publish the sample day, then run the jobs that are due."""
        if self._batch is None:
            return []
        script = (
            (PUBLISH_AT_S, "publish", self._publish),
            (BLACKLIST_AT_S, "blacklist", self._blacklist),
            (CORRUPT_AT_S, "corrupt", self._corrupt),
            (UPLOAD_AT_S, "upload", self._upload),
        )
        notes: list[str] = []
        for at, name, step in script:
            if elapsed_s >= at and name not in self._done:
                self._done.append(name)
                notes.append(f"{SYSTEM}: {step(self._batch)}")
        return notes

    def _publish(self, batch: BatchRunner) -> str:
        day = _sample_day()
        batch.publish(day, dt.datetime.now(SHANGHAI))
        return f"the platform published {len(day)} WL cases and decisions on the feeds"

    def _run(self, batch: BatchRunner, name: str, job: str, date: dt.date) -> str:
        outcome = batch.run(f"{SYSTEM}.{job}", date)
        self.results[name] = outcome.state
        return f"{job} {date}: {outcome.state}, {outcome.emitted} message(s) to the bus"

    def _blacklist(self, batch: BatchRunner) -> str:
        return self._run(batch, "blacklist", BLACKLIST_JOB.name, self._yesterday)

    def _corrupt(self, batch: BatchRunner) -> str:
        self.simulator.corrupt_next_download("sha256")
        return self._run(batch, "corrupt", BLACKLIST_JOB.name, self._before) + " (refused whole)"

    def _upload(self, batch: BatchRunner) -> str:
        line = self._run(batch, "upload", UPLOAD_JOB.name, self._today)
        day = self._today.strftime("%Y%m%d")
        uploaded = [b for b in self.simulator.batches.values() if b.biz_date == day]
        self.results["package"] = ",".join(f"{b.status}/{len(b.records)}" for b in uploaded)
        return f"{line}; the ministry has " + (
            ", ".join(f"{b.batch_id}: {b.status} ({len(b.records)} records)" for b in uploaded)
            or "no package"
        )

    def finished(self) -> bool:
        """All job runs done."""
        return len(self._done) == 4

    def check(self, counts: SystemCounts) -> list[str]:
        """The jobs behaved as scripted and their messages went through the bus."""
        expected = {
            "blacklist": "success",
            "corrupt": "failed",
            "upload": "success",
            "package": "PARTIAL/5",
        }
        problems = [
            f"{SYSTEM} {name}: expected {value}, got {self.results.get(name)}"
            for name, value in expected.items()
            if self.results.get(name) != value
        ]
        if counts.mapped != 3:
            problems.append(f"{SYSTEM}: {counts.mapped} blacklist entries mapped, expected 3")
        return problems

    def stop(self) -> None:
        """Stop the simulator."""
        self.simulator.stop()


DEMO = DemoSystem(system=SYSTEM, start=CultureTourismDemo)
