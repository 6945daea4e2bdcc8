"""ip_supervision in ``make demo``: 互联网+监管 taking penalty decisions and inspections.

The system never sends anything: the bus uploads every canonical penalty decision
(``routes/ip_supervision-uploads.yaml``) and every completed inspection
(``routes/ip_supervision-inspections.yaml``), whichever system recorded it, as 监管行为 records.
The simulator (``SupervisionSimulator``) is the CXF SOAP service on loopback answering as the
cluster's node A behind the old F5: UTF-8 with a BOM, results out of ``seq`` order and
right-padded (quirks Q5, Q7), HTTP 503 above 5 calls a second (the load balancer).

The script:

- at ``WAVES`` times, agencies working in 闽执法 itself record penalty decisions and inspections
  there, and the platform publishes them on the canonical feeds (``bind_batch``: the demo's
  ``DemoBatch``): the spec's sample records under new numbers, with recent dates, whose
  监管事项 the operator's table maps (README §2.5);
- the first of those inspections to reach the system fails to store once (``R09``
  入库失败，请重试): the bus must resend that record alone and have it stored;
- the party of the first of those decisions to reach the system is not in the system's copy of
  the legal-entity register yet (``R03``): refused for good, dead-lettered once, while the rest
  of its call is stored;
- the second wave meets the maintenance window: for ``MAINTENANCE_S`` seconds from
  ``WAVES[1]`` (and at least until a call has met it) every call gets a SOAP Fault
  ``soap:Server``, and the bus uploads those records again after its retry delay. The window
  lets each route fail about one call, far below its circuit breaker (5 failed calls in a row
  would hold the uploads for 60 s).

Records from the other systems of the demo arrive as well when the operator's table maps them.
At the end the peer checks what arrived: each record stored (``0`` 新增 or ``1`` 更新) is one
message the bus counts as delivered, every record of the platform was stored but the refused
one, and nothing else was refused. Without a ``DemoBatch`` (``bind_batch`` not called) the
peer only answers and checks what other systems' messages bring.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from lxml import etree

from adapters._simulators.http import Response
from adapters._simulators.soap import Operation, SoapCall, soap_fault
from adapters.ip_supervision._calls import OPERATION
from adapters.ip_supervision.simulator import SupervisionSimulator
from runner.adapter_api import DemoSystem, MessageRejected, SystemCounts, parse_xml
from runner.demo_api import specs_dir
from schemas.case_code import make_case_code
from schemas.timeutil import SHANGHAI

__all__ = [
    "DEMO",
    "MAINTENANCE_S",
    "WAVES",
    "FeedPublisher",
    "IpSupervisionDemo",
    "platform_records",
]

WAVES = (1.0, 3.0)
"""When the platform publishes a wave of records (seconds after the start)."""
MAINTENANCE_S = 2.0
MAINTENANCE_FAULT = Response(
    500,
    soap_fault("系统维护中，请稍后再试", "soap:Server"),
    {"Content-Type": "text/xml;charset=UTF-8"},
)
"""What CXF answers during the maintenance window (README §2.4, §6.2)."""
PLATFORM = "platform"
_SAMPLES = (
    "upload_penalty-1",
    "upload_penalty-2",
    "upload_inspection-1",
    "upload_inspection-2",
)
_REFUSALS = {"XZJC": "R09", "XZCF": "R03"}
"""The code the first platform record of each data type gets (see the module docstring)."""
_KIND = {"XZJC": "inspection", "XZCF": "penalty decision"}
_STORED = frozenset({"0", "1"})
_NUMBER = re.compile(r"〔\d{4}〕\d+号$")


class FeedPublisher(Protocol):
    """What this peer uses of the ``DemoBatch`` that ``runner.demo`` binds."""

    def publish(self, envelopes: Sequence[Mapping[str, Any]], received_at: dt.datetime) -> None:
        """Put canonical envelope drafts on their feeds as received at ``received_at``."""
        ...


def _sample_envelopes() -> list[dict[str, Any]]:
    """The canonical inputs of the spec's upload samples, in ``_SAMPLES`` order."""
    folder = specs_dir() / "systems" / "ip_supervision" / "samples"
    found: list[dict[str, Any]] = []
    for stem in _SAMPLES:
        found += json.loads((folder / f"{stem}.input.json").read_bytes())
    return found


def _renumbered(sample: Mapping[str, Any], serial: int, at: dt.datetime) -> dict[str, Any]:
    """``sample`` as a new record of the platform: its own numbers and case code, time ``at``."""
    envelope = copy.deepcopy(dict(sample))
    payload = envelope["payload"]
    agency = payload["agency"]
    case_no = f"MZF-{agency['division_code']}-{at:%Y}-{serial:05d}"
    case_code = make_case_code(
        division_code=agency["division_code"],
        year=at.year,
        domain=agency["domain"],
        source_system=PLATFORM,
        source_case_no=case_no,
    )
    stamp = at.isoformat(timespec="seconds")
    envelope |= {"source_system": PLATFORM, "case_code": case_code}
    if envelope["schema"] == "enforcement.penalty_decision.v1":
        payload["decision_no"] = _NUMBER.sub(f"〔{at:%Y}〕{serial}号", payload["decision_no"])
        payload |= {"case_code": case_code, "decided_at": stamp}
        payload["publicity_until"] = f"{at.date() + dt.timedelta(days=365)}"
        envelope["source_message_id"] = f"{case_no}/JDS-01"
    else:
        payload["inspection_id"] = f"JC{agency['division_code']}{at:%Y%m%d}{serial:05d}"
        payload["inspected_at"] = stamp
        envelope["source_message_id"] = payload["inspection_id"]
    return envelope


def platform_records(wave: int, now: dt.datetime) -> list[dict[str, Any]]:
    """The records the platform publishes in ``wave`` (0, 1, …): each sample once, renumbered,
    dated a few hours before ``now``."""
    samples = _sample_envelopes()
    at = (now - dt.timedelta(hours=3)).replace(microsecond=0)
    base = 500 + wave * len(samples)
    return [_renumbered(s, base + i, at + dt.timedelta(minutes=i)) for i, s in enumerate(samples)]


def _record_ids(envelopes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``XWBH`` → data type of each envelope (a decision number or an inspection id)."""
    ids: dict[str, str] = {}
    for envelope in envelopes:
        payload = envelope["payload"]
        if "decision_no" in payload:
            ids[payload["decision_no"]] = "XZCF"
        else:
            ids[payload["inspection_id"]] = "XZJC"
    return ids


def _record_xwbhs(xml_data: str) -> list[str]:
    """The ``XWBH`` of every record of an ``xmlData`` document ([] if unreadable)."""
    try:
        root = parse_xml(xml_data.encode("gbk"), "gbk")
    except (MessageRejected, UnicodeEncodeError):
        return []
    return [x.text or "" for x in root.iterfind("BODY/RECORD/XWBH")]


def _results(answer: str) -> list[tuple[str, str]]:
    """(``xwbh``, code) of every record result of an answer document."""
    root = etree.fromstring(answer.encode("utf-8"))
    return [
        ((r.findtext("xwbh") or "").strip(), (r.findtext("code") or "").strip())
        for r in root.iter("record")
    ]


class _ScriptedService(SupervisionSimulator):
    """The service, picking the platform records its script refuses as their calls come in."""

    def __init__(self) -> None:
        super().__init__(node="A_bom", pad=True, reverse=True)
        self.ours: dict[str, str] = {}
        """``XWBH`` → data type of every record the platform published."""
        self.picked: dict[str, str] = {}
        """Data type → the ``XWBH`` refused once (see ``_REFUSALS``)."""
        self.maintenance_until: float | None = None
        """``time.monotonic()`` until which every call meets the maintenance window (None: no
        window yet); it lasts until at least one call has met it."""
        self.maintenance_faults = 0
        self._results: list[tuple[str, str]] = []
        self._read = 0
        self._script_lock = threading.Lock()

    def operations(self) -> Mapping[str, Operation]:
        """The service's one operation, with the script's pick before it."""
        upload = super().operations()[OPERATION]

        def scripted(call: SoapCall) -> str | Response:
            with self._script_lock:
                if self._closed():
                    self.maintenance_faults += 1
                    return MAINTENANCE_FAULT
            self._pick(call)
            return upload(call)

        return {OPERATION: scripted}

    def _pick(self, call: SoapCall) -> None:
        data_type = call.params.get("dataType") or ""
        with self._script_lock:
            if data_type not in _REFUSALS or data_type in self.picked:
                return
            ours = [x for x in _record_xwbhs(call.params.get("xmlData") or "") if x in self.ours]
            if not ours:
                return
            self.picked[data_type] = ours[0]
        self.fail_record(ours[0], _REFUSALS[data_type])

    def expect(self, envelopes: Sequence[Mapping[str, Any]]) -> None:
        """Know the records of ``envelopes`` as the platform's own (before they are sent)."""
        with self._script_lock:
            self.ours |= _record_ids(envelopes)

    def record_results(self) -> list[tuple[str, str]]:
        """(``xwbh``, code) of every record result the service answered, in order (each
        answer is read once)."""
        with self._script_lock:
            for answer in self.answers[self._read :]:
                self._results += _results(answer)
                self._read += 1
            return list(self._results)

    def close_for(self, seconds: float) -> None:
        """Begin the maintenance window: every call gets the Fault for ``seconds``."""
        with self._script_lock:
            self.maintenance_until = time.monotonic() + seconds

    def in_maintenance(self) -> bool:
        """True while the maintenance window lasts."""
        with self._script_lock:
            return self._closed()

    def _closed(self) -> bool:
        """The window's state (the caller holds ``_script_lock``)."""
        if self.maintenance_until is None:
            return False
        return time.monotonic() < self.maintenance_until or not self.maintenance_faults


class IpSupervisionDemo:
    """The running service and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.service = _ScriptedService()
        self._feeds: FeedPublisher | None = None
        self._waves_sent = 0
        self._maintenance_told = False
        self._told: set[str] = set()
        self.service.start()

    @property
    def settings(self) -> Mapping[str, object]:
        """The simulator's endpoint (app id and test secret come from ``demo_config``)."""
        return {"endpoint": self.service.endpoint}

    @property
    def expected_dead_letters(self) -> Mapping[str, int | range]:
        """The decision whose party the register does not know yet (when the script plays),
        and the other systems' records whose 监管事项 the catalogue does not list: the spec's
        17-row catalogue covers few of them, and README §2.5 refuses such a record."""
        planned: dict[str, int | range] = {"no_supervision_item": range(0, 100_000)}
        if self._feeds is not None:
            planned["R03"] = 1
        return planned

    def bind_batch(self, batch: FeedPublisher) -> None:
        """Take the demo's ``DemoBatch``: the platform's side of the feeds."""
        self._feeds = batch

    def intro(self) -> list[str]:
        """What the system will do."""
        if self._feeds is None:
            return ["互联网+监管 (SOAP, signed GBK xmlData) taking what the other systems produce"]
        per_wave = len(_sample_envelopes())
        return [
            f"互联网+监管 (SOAP, signed GBK xmlData): the platform's agencies record {per_wave} "
            f"decisions and inspections at {WAVES[0]:.0f} s and again at {WAVES[1]:.0f} s; "
            "one record fails to store once (R09, resent), one party is unknown to the register "
            f"(R03, refused); the second wave meets a {MAINTENANCE_S:.0f} s maintenance window "
            "(SOAP Fault Server); HTTP 503 above 5 calls/s"
        ]

    def tick(self, elapsed_s: float) -> list[str]:
        """Publish the waves (the second in the maintenance window) when due; narrate."""
        if self._feeds is None:
            return []
        notes: list[str] = []
        while self._waves_sent < len(WAVES) and elapsed_s >= WAVES[self._waves_sent]:
            if self._waves_sent == 1:
                self.service.close_for(MAINTENANCE_S)
                notes.append(
                    f"ip_supervision: maintenance window for {MAINTENANCE_S:.0f} s: every call "
                    "gets a SOAP Fault (soap:Server)"
                )
            notes.append(self._publish(self._feeds, self._waves_sent))
            self._waves_sent += 1
        if (
            self._waves_sent > 1
            and not self._maintenance_told
            and not self.service.in_maintenance()
        ):
            self._maintenance_told = True
            faults = self.service.maintenance_faults
            notes.append(f"ip_supervision: maintenance over ({faults} calls got the Fault)")
        return notes + self._narrate()

    def _publish(self, feeds: FeedPublisher, wave: int) -> str:
        now = dt.datetime.now(SHANGHAI)
        records = platform_records(wave, now)
        self.service.expect(records)
        feeds.publish(records, now)
        return (
            f"ip_supervision: agencies on 闽执法 recorded {len(records)} penalty decisions and "
            "inspections; the platform publishes them on the canonical feeds"
        )

    def _narrate(self) -> list[str]:
        notes = []
        codes: dict[str, list[str]] = {}
        for xwbh, code in self.service.record_results():
            codes.setdefault(xwbh, []).append(code)
        for data_type, xwbh in dict(self.service.picked).items():
            got = codes.get(xwbh, [])
            if data_type not in self._told and _REFUSALS[data_type] in got:
                self._told.add(data_type)
                notes.append(
                    f"ip_supervision: {_KIND[data_type]} {xwbh} answered {_REFUSALS[data_type]}"
                )
            if f"{data_type} stored" not in self._told and _STORED & set(got):
                self._told.add(f"{data_type} stored")
                notes.append(f"ip_supervision: {_KIND[data_type]} {xwbh} stored when resent")
        return notes

    def _settled_ids(self) -> set[str]:
        """The platform's records that got their final answer (stored, or the R03 refusal)."""
        final = _STORED | {_REFUSALS["XZCF"]}
        return {x for x, code in self.service.record_results() if code in final}

    def finished(self) -> bool:
        """Every wave out, the window over, every platform record answered for good."""
        if self._feeds is None:
            return True
        if self._waves_sent < len(WAVES) or self.service.in_maintenance():
            return False
        return set(self.service.ours) <= self._settled_ids()

    def check(self, counts: SystemCounts) -> list[str]:
        """Every stored record is one delivered message; nothing refused but the planned."""
        problems: list[str] = []
        results = self.service.record_results()
        stored = sum(1 for _x, code in results if code in _STORED)
        if stored != counts.delivered:
            problems.append(
                f"ip_supervision: {stored} records stored (新增/更新), "
                f"the bus delivered {counts.delivered} messages"
            )
        planned = {(x, _REFUSALS[t]) for t, x in self.service.picked.items()}
        refused = Counter(
            code for x, code in results if code not in _STORED and (x, code) not in planned
        )
        if refused:
            problems.append(f"ip_supervision: records refused unplanned: {dict(refused)}")
        kept = {x for x, code in results if code in _STORED}
        lost = set(self.service.ours) - kept - {self.service.picked.get("XZCF")}
        if lost:
            problems.append(
                f"ip_supervision: {len(lost)} platform records never stored: {sorted(lost)[:3]}"
            )
        if self._feeds is not None and set(self.service.picked) != set(_REFUSALS):
            problems.append("ip_supervision: the platform's records did not all arrive")
        return problems

    def stop(self) -> None:
        """Stop serving."""
        self.service.stop()


DEMO = DemoSystem(system="ip_supervision", start=IpSupervisionDemo)
