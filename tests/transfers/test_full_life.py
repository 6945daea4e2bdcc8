"""The whole life of a transfer (行刑衔接) through the wire, on the real runtime.

Each test starts ``ebus run``'s runtime on its own RabbitMQ virtual host with a PostgreSQL
store, admin_criminal connected to the police side (the simulator, on the same broker) and
two_laws to the procuratorate's SOAP service (the simulator, on loopback); eco_env and drug_admin
to theirs where a case or a penalty must come in. Cases and penalties enter through their real
inbound adapters, operators act through ``ebus transfers``, the police answer signed over AMQP,
and the procuratorate is told every transfer (infoType 02) and every later status (03).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from adapters.drug_admin._dataset import sample_penalties
from runner.smcrypto import sm3_hex
from schemas.case_code import make_case_code
from schemas.timeutil import SHANGHAI
from tests.conftest import SPECS
from tests.transfers.life import BusUnderTest, running_bus, wait_until

pytestmark = pytest.mark.integration

HAZARDOUS = "FJ3508022025HJ68F323DF"
"""eco_env get_case_list_response-2: 3.6 t of hazardous waste dumped (HJ-XS338-02, ≥ 3 t)."""
BELOW = "FJ3505212025HJ1F34ED77"
"""eco_env get_penalty_decision_response-1: a penalty below every threshold."""
ZHANGZHOU = "FJ3506002025HJ827439C3"
"""eco_env get_penalty_decision_response-2: a penalty over a threshold (漳州市生态环境局)."""
HUIAN = "泉州市惠安生态环境局"
"""The agency of eco_env get_case_list_response-1, and of admin_criminal reverse_transfer-1."""
POLICE = "龙岩市公安局新罗分局"
AGENCY = "龙岩市新罗生态环境局"
SAMPLES = SPECS / "systems" / "admin_criminal" / "samples"
DOCUMENTS = (
    "transfer_letter=涉嫌犯罪案件移送书（岩新环移〔2025〕2号）",
    "investigation_report=涉嫌犯罪案件情况的调查报告（岩新环调〔2025〕2号）",
    "items_list=涉案物品清单（岩新环物〔2025〕2号）",
    "inspection_report=危险废物鉴别报告（闽环鉴〔2025〕0316号）",
)
EVIDENCE = {
    "现场勘验笔录及照片.pdf": ("inspection_record", b"%PDF-1.7 inspection record"),
    "危险废物属性鉴别报告.pdf": ("expert_opinion", b"%PDF-1.7 expert opinion"),
}


def _now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI).replace(microsecond=0)


def _send(bus: BusUnderTest, transfer_id: str, folder: Path) -> str:
    """``ebus transfers send`` with the Art. 6 documents and two evidence files."""
    folder.mkdir(exist_ok=True)
    args = ["transfers", "send", transfer_id, "--by", AGENCY]
    for document in DOCUMENTS:
        args += ["--document", document]
    for name, (kind, data) in EVIDENCE.items():
        (folder / name).write_bytes(data)
        args += ["--evidence", f"{kind}={folder / name}"]
    return bus.cli(*args).output


def _approve_and_send(bus: BusUnderTest, transfer_id: str, folder: Path) -> None:
    bus.cli(
        "transfers", "approve", transfer_id, "--by", "局长 林某", "--note", "同意移送",
        "--to-organ", POLICE,
    )  # fmt: skip
    _send(bus, transfer_id, folder)


def test_a_sample_over_a_threshold_is_proposed_approved_transferred_received_and_filed(
    tmp_path: Path,
) -> None:
    with running_bus(eco_env=True) as bus:
        transfer_id = bus.wait_for_proposal(HAZARDOUS)
        wait_until(lambda: BELOW in bus.ledger_cases(), "the below-threshold penalty")
        assert bus.transfers_of(BELOW) == []
        proposal = bus.transfer(transfer_id)
        assert proposal.record["triggered_by"]["rule_id"] == "HJ-XS338-02"
        assert proposal.record["triggered_by"]["figures"]["hazardous_waste_tonnes"] == "3.60"

        approved = bus.cli(
            "transfers", "approve", transfer_id, "--by", "局长 林某", "--note", "同意移送",
            "--to-organ", POLICE,
        )  # fmt: skip
        assert f"{transfer_id}: approved" in approved.output
        sent = _send(bus, transfer_id, tmp_path / "evidence")
        assert f"{transfer_id}: transferred (4 document(s), 2 evidence item(s))" in sent

        package = bus.package(transfer_id)
        assert bus.police.refused == []  # the police side verified the HMAC-SM3 signature
        assert package.properties["type"] == "TRANSFER"
        assert package.properties["message_id"] == transfer_id
        assert package.routing_key == "fj.350802.hj"
        body = package.body
        assert body["caseCode"] == HAZARDOUS
        assert body["fromAgency"]["name"] == AGENCY
        assert body["toOrgan"] == {"name": POLICE, "organType": "GA"}
        assert body["suspectedOffence"] == "污染环境罪"
        assert body["trigger"]["ruleId"] == "HJ-XS338-02"
        digests = {e["name"]: e["digest"] for e in body["evidence"]}
        assert digests == {
            name.removesuffix(".pdf"): sm3_hex(data) for name, (_, data) in EVIDENCE.items()
        }
        assert [d["type"] for d in body["documents"]] == ["YSS", "DCBG", "WPQD", "JYBG"]
        assert body["deadlines"][0]["basis"].endswith("第五条第二款")

        (entered,) = bus.reports(transfer_id, 1)
        assert (entered.info_type, entered.ysfx, entered.yszt) == ("02", "1", "20")
        assert entered.history == ("10", "20")
        assert entered.values["cfgz"] == "HJ-XS338-02"
        assert entered.values["jsjgmc"] == POLICE

        answered = _now() + dt.timedelta(minutes=10)
        bus.answer("receipt_signed", package, answered)
        bus.wait_status(transfer_id, "received")
        bus.answer("filing_decision", package, answered + dt.timedelta(minutes=20))
        bus.wait_status(transfer_id, "filed")
        handed = (answered + dt.timedelta(hours=2)).isoformat()
        bus.cli(
            "transfers", "record", transfer_id, "items_handed_over", "--by", AGENCY,
            "--at", handed,
        )  # fmt: skip

        reports = bus.reports(transfer_id, 4)
        assert [(r.info_type, r.yszt) for r in reports] == [
            ("02", "20"),
            ("03", "30"),
            ("03", "40"),
            ("03", "45"),
        ]
        assert bus.procuratorate.submissions[transfer_id].values["yszt"] == "45"
        assert bus.history(transfer_id) == [
            "proposed",
            "approved",
            "transferred",
            "received",
            "filed",
            "items_handed_over",
        ]
        assert all(c.closed_at for c in bus.runtime_service.store.clocks(transfer_id))
        assert bus.services.audit.verify().ok


def test_answers_out_of_order_and_twice_are_merged_once_and_a_stray_one_is_dead_lettered(
    tmp_path: Path,
) -> None:
    with running_bus(eco_env=True) as bus:
        transfer_id = bus.wait_for_proposal(HAZARDOUS)
        _approve_and_send(bus, transfer_id, tmp_path)
        package = bus.package(transfer_id)
        answered = _now() + dt.timedelta(minutes=10)
        bus.answer("filing_decision", package, answered + dt.timedelta(minutes=20))
        bus.wait_status(transfer_id, "filed")
        bus.answer("receipt_signed", package, answered, copies=2)  # quirk Q2: one msgId twice
        bus.answer("receipt_signed", package, answered)  # the same receipt under a new msgId
        bus.police.publish_sample(SAMPLES / "receipt_signed-1.json")  # YS-350322-2025-0004

        (letter,) = wait_until(
            lambda: bus.services.dead_letters.list(status="dead"), "the stray receipt"
        )
        assert letter.system == "admin_criminal"
        assert letter.rule == "UnknownTransfer"
        assert "YS-350322-2025-0004: 'received' for a transfer the bus does not know" in (
            letter.reason
        )
        listed = bus.cli("dlq", "list", "--system", "admin_criminal").output
        assert "transfers  transfer YS-350322-2025-0004: 'received'" in listed
        assert "1 dead letter(s) shown" in listed
        reports = bus.reports(transfer_id, 4)
        assert [(r.info_type, r.yszt) for r in reports] == [
            ("02", "20"),
            ("03", "40"),
            ("03", "30"),  # the late receipt …
            ("03", "40"),  # … and the status the transfer has: the platform keeps the last
        ]
        assert bus.history(transfer_id) == [
            "proposed",
            "approved",
            "transferred",
            "received",
            "filed",
        ]
        assert bus.status(transfer_id) == "filed"
        audit = bus.services.audit.trace(HAZARDOUS)
        assert [r.kind for r in audit].count("transfer.received") == 1
        assert bus.police.dead_lettered() == 0  # nothing refused on the police side's queue
        time.sleep(1.0)  # a further report would have arrived by now
        assert len(bus.procuratorate.reports_of(transfer_id)) == 4
        assert bus.procuratorate.reports_of("YS-350322-2025-0004") == []
        assert bus.procuratorate.submissions[transfer_id].values["yszt"] == "40"


def test_a_refused_proposal_stops_and_a_declined_transfer_is_filed_on_reconsideration(
    tmp_path: Path,
) -> None:
    with running_bus(eco_env=True) as bus:
        refused = bus.wait_for_proposal(ZHANGZHOU)
        bus.cli("transfers", "refuse", refused, "--by", "局长 陈某", "--note", "证据不足")
        transfer_id = bus.wait_for_proposal(HAZARDOUS)
        _approve_and_send(bus, transfer_id, tmp_path)
        package = bus.package(transfer_id)
        answered = _now() + dt.timedelta(minutes=10)
        bus.answer("non_filing_decision", package, answered)
        bus.wait_status(transfer_id, "declined")
        requested = (answered + dt.timedelta(hours=1)).isoformat()
        bus.cli(
            "transfers", "record", transfer_id, "reconsideration_requested",
            "--by", AGENCY, "--note", "补充危险废物鉴别报告，提请复议", "--at", requested,
        )  # fmt: skip
        bus.answer("reconsideration_decision", package, answered + dt.timedelta(hours=4))
        bus.wait_status(transfer_id, "reconsideration_filed")

        reports = bus.reports(transfer_id, 4)
        assert [(r.info_type, r.yszt) for r in reports] == [
            ("02", "20"),
            ("03", "50"),
            ("03", "55"),
            ("03", "61"),
        ]
        clocks = {c.key: c for c in bus.runtime_service.store.clocks(transfer_id)}
        assert clocks["reconsideration_request"].closed_at is not None
        assert clocks["reconsideration_decision"].closed_at is not None
        assert clocks["hand_over_items"].closed_at is None
        assert bus.status(refused) == "refused"
        assert [p.body["transferNo"] for p in bus.police.packages] == [transfer_id]
        assert bus.procuratorate.reports_of(refused) == []


def test_a_forwarded_transfer_is_filed_by_the_competent_organ(tmp_path: Path) -> None:
    with running_bus(eco_env=True) as bus:
        transfer_id = bus.wait_for_proposal(HAZARDOUS)
        _approve_and_send(bus, transfer_id, tmp_path)
        package = bus.package(transfer_id)
        answered = _now() + dt.timedelta(minutes=10)
        bus.answer("forward_notice", package, answered)
        bus.wait_status(transfer_id, "forwarded")
        competent = {"name": "福建省公安厅经济犯罪侦查总队", "code": "350000000000"}
        bus.answer("filing_decision", package, answered + dt.timedelta(hours=3), organ=competent)
        bus.wait_status(transfer_id, "filed")

        transfer = bus.transfer(transfer_id)
        assert transfer.record["to_organ"] == {
            "name": "福建省公安厅经济犯罪侦查总队",
            "kind": "public_security",
        }
        (forward,) = [
            c
            for c in bus.runtime_service.store.clocks(transfer_id)
            if c.key == "forward_to_competent_organ"
        ]
        assert forward.due_at == answered - dt.timedelta(minutes=5) + dt.timedelta(hours=24)
        assert forward.closed_at == answered
        reports = bus.reports(transfer_id, 3)
        assert [(r.yszt, r.values.get("jsjgmc")) for r in reports] == [
            ("20", POLICE),
            ("35", "福建省公安厅经济犯罪侦查总队"),
            ("40", "福建省公安厅经济犯罪侦查总队"),
        ]


def test_a_reverse_transfer_opens_an_administrative_case_at_an_agency_the_bus_knows() -> None:
    with running_bus(eco_env=True) as bus:
        wait_until(
            lambda: bus.runtime_service.store.agency(HUIAN) is not None,
            f"{HUIAN}, known from its eco_env cases",
        )
        bus.police.publish_sample(SAMPLES / "reverse_transfer-1.json")
        bus.police.publish_sample(SAMPLES / "reverse_transfer-2.json")  # to an agency never seen

        case = bus.opened_case()
        assert case["schema"] == "enforcement.case.v1"
        assert case["case_code"] == "FJ3505212024HJ9E5B1E52"
        payload = case["payload"]
        assert payload["case_source"] == "transfer_back"
        assert payload["agency"]["uscc"] == "11350521MB1G20956T"
        assert payload["source_case_no"] == "FXYS-350521-2025-0002"
        (alert,) = bus.alerts(1)
        assert alert["kind"] == "reverse_transfer_unaddressed"
        assert alert["agency"] == "仙游县卫生健康局"

        (entered,) = bus.reports("FXYS-350521-2025-0002", 1)
        assert (entered.info_type, entered.ysfx, entered.yszt) == ("02", "2", "70")
        assert entered.values["jsjgmc"] == HUIAN
        assert entered.values["jsjglx"] == "4"
        (clock,) = bus.runtime_service.store.clocks("FXYS-350521-2025-0002")
        assert (clock.key, clock.due_at) == ("admin_handling", None)


def _penalty(record_id: str, decided: dt.date, updated: dt.datetime) -> dict[str, object]:
    """吴十全's penalty of drug_admin query_penalties-1, as another decision of another case."""
    record = sample_penalties()[1]
    registered = decided - dt.timedelta(days=40)
    record.update(
        RecordId=record_id,
        UpdateTime=f"{updated:%Y-%m-%d %H:%M:%S}",
        CaseNo=f"YPAJ-350200-{registered:%Y}-{record_id[-6:]}",
        RegisterDate=f"{registered:%Y%m%d}",
        DecisionNo=f"厦市监药罚〔{decided:%Y}〕{int(record_id[-3:])}号",
        DecisionDate=f"{decided:%Y%m%d}",
    )
    return record


def test_a_third_penalty_within_two_years_proposes_a_transfer() -> None:
    today, now = _now().date(), _now().replace(tzinfo=None)
    penalties = [
        _penalty("CFJD-R-000101", today - dt.timedelta(days=660), now - dt.timedelta(hours=3)),
        _penalty("CFJD-R-000102", today - dt.timedelta(days=300), now - dt.timedelta(hours=2)),
        _penalty("CFJD-R-000103", today - dt.timedelta(days=3), now - dt.timedelta(hours=1)),
    ]
    cases = [
        make_case_code(
            division_code="350200",
            year=int(p["RegisterDate"][:4]),  # type: ignore[index]
            domain="YP",
            source_system="drug_admin",
            source_case_no=str(p["CaseNo"]),
        )
        for p in penalties
    ]
    with running_bus(penalties=penalties) as bus:
        transfer_id = bus.wait_for_proposal(cases[2])
        wait_until(lambda: set(cases) <= bus.ledger_cases(), "the three penalties")
        assert bus.transfers_of(cases[0]) == bus.transfers_of(cases[1]) == []
        transfer = bus.transfer(transfer_id)
        assert transfer.record["triggered_by"] == {
            "rule_id": "SC-XS225-03",
            "figures": {"prior_penalties_2y": "2", "threshold_prior_penalties_2y": "2"},
        }
        assert transfer.record["suspected_offence"] == "非法经营罪"
        trail = json.dumps(
            [r.detail for r in bus.services.audit.trace(cases[2])], ensure_ascii=False
        )
        assert "350212197105031398" not in trail  # the party's id number, never in clear


def test_a_missed_deadline_raises_exactly_one_alert_with_two_workers() -> None:
    with running_bus(eco_env=True) as bus:
        unapproved = bus.wait_for_proposal(ZHANGZHOU)
        approved = bus.wait_for_proposal(HAZARDOUS)
        bus.cli("transfers", "approve", approved, "--by", "局长 林某", "--to-organ", POLICE)
        bus.second_runtime()
        assert bus.alerts(1, timeout=1.0) == []

        bus.clock.advance(dt.timedelta(days=4))  # past 3日 for approval, 24小时 for transfer
        alerts = bus.alerts(2)
        time.sleep(1.5)  # several more rounds of both watchers
        assert bus.alerts(1, timeout=0.5) == []
        missed = {(a["transfer_id"], a["deadline"]["key"]) for a in alerts}
        assert missed == {(unapproved, "approval_decision"), (approved, "transfer_to_police")}
        assert {a["kind"] for a in alerts} == {"transfer_deadline_missed"}
        overdue = [
            r
            for case in (HAZARDOUS, ZHANGZHOU)
            for r in bus.services.audit.trace(case)
            if r.kind == "transfer.overdue"
        ]
        assert len(overdue) == 2
        claimed = [c for c in bus.runtime_service.store.clocks() if c.alerted_at is not None]
        assert sorted(str(c.alert_id) for c in claimed) == sorted(a["alert_id"] for a in alerts)
