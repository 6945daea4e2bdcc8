"""culture_tourism_national in ``make demo``: the ministry's exchange service and the daily jobs.

The runtime does not yet schedule ``SPEC.batch_jobs`` (the batch framework, ``runner/batch``,
is being written), so this peer plays the DAG itself, against the simulator (a real JAX-WS
SOAP endpoint on loopback), and narrates what the jobs did:

- at ``BLACKLIST_AT_S``: the blacklist job for yesterday — four entries, one of them with a
  measure code outside W11 (refused alone), a person with a 15-digit ID number (upgraded);
- at ``CORRUPT_AT_S``: the blacklist of the day before arrives with a wrong ``sha256``: the
  whole download is refused and the job fails (the DAG would retry it after a fix);
- at ``UPLOAD_AT_S``: the upload job for yesterday: the package of the spec's sample day is
  built, uploaded and its result polled — one decision is refused by the ministry (``PARTIAL``).

The answers go through the adapter's real inbound path (``prepare``, mapping, validation) in a
dry run, not onto the bus: the progress table shows no rows for this system until the runtime
runs batch jobs. Nothing personal is narrated (counts, codes and batch ids only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from adapters._simulators.polling import RecordingPollContext
from adapters.culture_tourism_national._config import CultureTourismConfig
from adapters.culture_tourism_national._jobs import BLACKLIST_JOB, UPLOAD_JOB
from adapters.culture_tourism_national._wire import open_transport
from adapters.culture_tourism_national.simulator import CultureTourismSimulator
from runner.adapter_api import (
    DemoSystem,
    MessageRejected,
    PermanentError,
    SystemCounts,
    TransientError,
)
from schemas.timeutil import SHANGHAI

__all__ = ["DEMO", "CultureTourismDemo"]

BLACKLIST_AT_S = 1.0
CORRUPT_AT_S = 2.0
UPLOAD_AT_S = 3.0
SECRET = "Wl35@exch#2023test"  # the README's joint-test secret, demo only
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


class _JobContext(RecordingPollContext):
    """A job context for the demo: a live clock and the sample day's canonical messages."""

    def __init__(self, send: Any, days: Mapping[dt.date, list[Mapping[str, Any]]]) -> None:
        super().__init__(send, now=dt.datetime.now(SHANGHAI))
        self.days = days

    def day_messages(self, schemas: Sequence[str], day: dt.date) -> list[Mapping[str, Any]]:
        """The canonical messages of ``day`` (the spec's sample day for yesterday)."""
        return [e for e in self.days.get(day, []) if e["schema"] in schemas]

    def render_document(self, message: str, envelopes: Sequence[Mapping[str, Any]]) -> bytes:
        """The outbound mapping's document, rendered as ``ebus render`` does."""
        from runner.project import load_project  # noqa: PLC0415  (demo only)
        from schemas import parse_envelope  # noqa: PLC0415

        mapping = load_project().outbound_mapping("culture_tourism_national", message)
        views = [mapping.view(parse_envelope(dict(e), draft=True)) for e in envelopes]
        taken = [v for v in views if mapping.accepts_message(v)]
        return mapping.render(taken) if taken else b""


def _sample_day() -> list[Mapping[str, Any]]:
    import json  # noqa: PLC0415

    from runner.specs import specs_dir  # noqa: PLC0415  (the demo runs inside the repository)

    path = (
        specs_dir() / "systems/culture_tourism_national/samples/upload_daily_package-1.input.json"
    )
    return list(json.loads(path.read_bytes()))


class CultureTourismDemo:
    """The running simulator and the scripted job runs (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.simulator = CultureTourismSimulator(query_interval_s=0.0)
        self.simulator.start()
        today = dt.datetime.now(SHANGHAI).date()
        self._yesterday, self._before = today - dt.timedelta(days=1), today - dt.timedelta(days=2)
        self.simulator.set_blacklist(self._yesterday.strftime("%Y%m%d"), list(_ENTRIES))
        self.simulator.set_blacklist(self._before.strftime("%Y%m%d"), list(_ENTRIES[:1]))
        self.simulator.refuse_records["泉文执罚字〔2024〕第003号"] = "E103"
        self._config = CultureTourismConfig.model_validate(
            {"endpoint": self.simulator.endpoint, "app_secret": SECRET}
        )
        self._link = open_transport(self._config)
        self._ctx = _JobContext(self._link.send, {self._yesterday: _sample_day()})
        self._done: list[str] = []
        self.results: dict[str, str] = {}

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's endpoint."""
        return {"endpoint": self.simulator.endpoint}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """None on the bus: the jobs run outside the runtime in this demo."""
        return {}

    def intro(self) -> list[str]:
        """What the jobs will do."""
        return [
            "national daily batch (SOAP, SM3-signed): blacklist download of yesterday "
            "(4 entries, 1 bad), a corrupt download (sha256), the package upload with "
            "result polling"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Run the jobs that are due."""
        notes: list[str] = []
        if elapsed_s >= BLACKLIST_AT_S and "blacklist" not in self._done:
            notes.append(self._blacklist())
        if elapsed_s >= CORRUPT_AT_S and "corrupt" not in self._done:
            notes.append(self._corrupt())
        if elapsed_s >= UPLOAD_AT_S and "upload" not in self._done:
            notes.append(self._upload())
        return notes

    def _mapped(self, message: str, raw: Any) -> tuple[int, list[MessageRejected]]:
        from runner.dryrun import map_message  # noqa: PLC0415  (demo only)
        from runner.project import load_project  # noqa: PLC0415

        result = map_message(load_project(), "culture_tourism_national", message, raw)
        return len(result.envelopes), result.rejected

    def _blacklist(self) -> str:
        self._done.append("blacklist")
        try:
            BLACKLIST_JOB.run(self._ctx, self._config, self._yesterday)
        except (TransientError, PermanentError) as exc:
            self.results["blacklist"] = str(exc.code)
            return f"culture_tourism_national: blacklist {self._yesterday}: {exc.code}"
        count, rejected = self._mapped("download_blacklist", self._ctx.emitted[-1][1])
        rules = ", ".join(r.rule for r in rejected)
        self.results["blacklist"] = f"{count}/{len(rejected)}"
        return (
            f"culture_tourism_national: blacklist {self._yesterday}: {count} entries mapped, "
            f"{len(rejected)} refused ({rules})"
        )

    def _corrupt(self) -> str:
        self._done.append("corrupt")
        self.simulator.corrupt_next_download("sha256")
        try:
            BLACKLIST_JOB.run(self._ctx, self._config, self._before)
        except PermanentError as exc:
            self.results["corrupt"] = str(exc.code)
            return f"culture_tourism_national: blacklist {self._before} refused whole [{exc.code}]"
        self.results["corrupt"] = "accepted"
        return "culture_tourism_national: the corrupt download was NOT refused"

    def _upload(self) -> str:
        self._done.append("upload")
        try:
            UPLOAD_JOB.run(self._ctx, self._config, self._yesterday)
        except (TransientError, PermanentError) as exc:
            self.results["upload"] = str(exc.code)
            return f"culture_tourism_national: upload {self._yesterday}: {exc.code}"
        state = self._ctx.facts.get(f"upload:{self._yesterday:%Y%m%d}", {})
        self.results["upload"] = str(state.get("status"))
        return (
            f"culture_tourism_national: package {self._yesterday} uploaded as "
            f"{state.get('batch_id')}: "
            f"{state.get('status')} ({len(state.get('records', []))} records)"
        )

    def finished(self) -> bool:
        """All three job runs done."""
        return len(self._done) == 3

    def check(self, counts: SystemCounts) -> list[str]:
        """The jobs behaved as scripted."""
        expected = {"blacklist": "3/1", "corrupt": "sha256_mismatch", "upload": "PARTIAL"}
        return [
            f"culture_tourism_national {name}: expected {value}, got {self.results.get(name)}"
            for name, value in expected.items()
            if self.results.get(name) != value
        ]

    def stop(self) -> None:
        """Stop the simulator and close the connection."""
        self._link.close()
        self.simulator.stop()


DEMO = DemoSystem(system="culture_tourism_national", start=CultureTourismDemo)
