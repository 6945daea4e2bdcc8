"""The life of a transfer on each store backend, driven by real spec samples.

The police answers are the admin_criminal samples' canonical envelopes (what that adapter
publishes on the case-transfer feed). A transfer the bus proposes gets its own number, so the
answers to it are the samples with ``transfer_id`` set to that number.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from runner.stores import AuditStore, Database
from runner.transfers import (
    EvidenceFile,
    IllegalTransition,
    TransferPackage,
    TransferService,
    UnknownTransfer,
)
from runner.transfers.package import verify_evidence
from tests.transfers.conftest import Clock, sample

PACKAGE = TransferPackage.build(
    [
        ("transfer_letter", "涉嫌犯罪案件移送书（岩新环移〔2025〕2号）"),
        ("investigation_report", "涉嫌犯罪案件情况的调查报告（岩新环调〔2025〕2号）"),
        ("items_list", "涉案物品清单（岩新环物〔2025〕2号）"),
        ("inspection_report", "危险废物鉴别报告（闽环鉴〔2025〕0316号）"),
    ],
    [
        EvidenceFile("现场勘验笔录及照片", "inspection_record", b"%PDF-1.7 record"),
        EvidenceFile("危险废物属性鉴别报告", "expert_opinion", b"%PDF-1.7 opinion"),
    ],
)
POLICE = {"name": "龙岩市公安局新罗分局", "kind": "public_security"}
HAZARDOUS_CASE = "eco_env/samples/get_case_list_response-2.expected.json"


def _published(service: TransferService, kind: str) -> list[dict[str, Any]]:
    return [json.loads(row["body"]) for row in service.store.outbox(kind=kind)]


def _propose(service: TransferService) -> str:
    (transfer_id,) = service.handle(sample(HAZARDOUS_CASE))  # type: ignore[misc]
    return str(transfer_id)


def test_a_threshold_hit_proposes_and_a_person_carries_it_through_to_filing(
    service: TransferService, clock: Clock, db: Database
) -> None:
    transfer_id = _propose(service)
    assert transfer_id == "YS-350802-2025-0001"
    (proposal,) = _published(service, "proposed")
    payload = proposal["payload"]
    assert payload["status"] == "proposed"
    assert payload["triggered_by"] == {
        "rule_id": "HJ-XS338-02",
        "figures": {"hazardous_waste_tonnes": "3.60", "threshold_hazardous_waste_tonnes": "3.00"},
    }
    assert payload["suspected_offence"] == "污染环境罪"
    assert "法释〔2023〕7号第一条第（二）项" in payload["history"][0]["note"]
    assert payload["deadlines"][0]["due_at"] == "2025-06-06T23:59:59+08:00"

    clock.set("2025-06-03T16:00:00")
    service.decide(transfer_id, "approved", by="局长 林某", note="同意移送", to_organ=POLICE)
    clock.set("2025-06-03T16:18:00")
    service.send_package(transfer_id, PACKAGE, by="龙岩市新罗生态环境局")
    (package,) = _published(service, "transferred")
    body = package["payload"]
    assert [h["status"] for h in body["history"]] == ["approved", "transferred"]
    assert {d["kind"] for d in body["documents"]} >= {"transfer_letter", "items_list"}
    assert body["deadlines"] == [
        {
            "name": "批准移送后24小时内向同级公安机关移送",
            "due_at": "2025-06-04T16:00:00+08:00",
            "basis": "《行政执法机关移送涉嫌犯罪案件的规定》第五条第二款",
        }
    ]
    assert verify_evidence(body["evidence"][0], b"%PDF-1.7 record")
    assert not verify_evidence(body["evidence"][0], b"%PDF-1.7 forged")

    answers = ("receipt_signed-2", "filing_decision-2")
    for name in answers:
        service.handle(
            sample(f"admin_criminal/samples/{name}.expected.json", transfer_id=transfer_id)
        )
    clock.set("2025-06-08T10:00:00")
    service.decide(transfer_id, "items_handed_over", by="龙岩市新罗生态环境局")

    transfer = service.store.get(transfer_id)
    assert transfer is not None
    assert transfer.status == "items_handed_over"
    assert transfer.record["suspected_offence"] == "污染环境罪"
    assert all(c.closed_at for c in service.store.clocks(transfer_id))
    assert service.watch() == []
    kinds = [r.kind for r in AuditStore(db).trace("FJ3508022025HJ68F323DF")]
    assert [k for k in kinds if k.startswith("transfer.") and k != "transfer.rule_hit"] == [
        "transfer.proposed",
        "transfer.approved",
        "transfer.transferred",
        "transfer.received",
        "transfer.filed",
        "transfer.items_handed_over",
    ]
    assert AuditStore(db).verify().ok


def test_a_sample_below_every_threshold_proposes_nothing(service: TransferService) -> None:
    penalty = sample("eco_env/samples/get_penalty_decision_response-1.expected.json")
    assert service.handle(penalty) == []
    assert service.store.list() == []


def test_a_second_hit_on_the_same_case_proposes_nothing_more(service: TransferService) -> None:
    _propose(service)
    assert service.handle(sample(HAZARDOUS_CASE)) == []
    assert len(service.store.list()) == 1


def test_a_refused_proposal_cannot_be_transferred_and_the_attempt_is_audited(
    service: TransferService, db: Database
) -> None:
    transfer_id = _propose(service)
    service.decide(transfer_id, "refused", by="局长 林某", note="证据不足")
    with pytest.raises(IllegalTransition, match="'transferred' is not allowed from 'refused'"):
        service.send_package(transfer_id, PACKAGE, by="x", to_organ=POLICE)
    with pytest.raises(IllegalTransition, match="allowed: none"):
        service.decide(transfer_id, "approved", by="局长 林某")
    refusals = [
        r
        for r in AuditStore(db).trace("FJ3508022025HJ68F323DF")
        if r.kind == "transfer.refused_transition"
    ]
    assert [r.detail["to"] for r in refusals] == ["transferred", "approved"]
    assert service.store.get(transfer_id).status == "refused"  # type: ignore[union-attr]


def _platform_package(number: int) -> dict[str, Any]:
    return sample(f"admin_criminal/samples/transfer_package-{number}.input.json")


def test_a_declined_case_goes_to_reconsideration_and_then_to_the_procuratorate(
    service: TransferService, clock: Clock
) -> None:
    service.handle(_platform_package(3))
    transfer_id = "YS-350982-2025-0003"
    service.handle(sample("admin_criminal/samples/non_filing_decision-1.expected.json"))
    clock.set("2025-05-25T09:00:00")
    service.decide(transfer_id, "reconsideration_requested", by="福鼎市市场监督管理局")
    service.handle(sample("admin_criminal/samples/reconsideration_decision-1.expected.json"))
    clock.set("2025-05-30T09:00:00")
    service.decide(transfer_id, "supervision_requested", by="福鼎市市场监督管理局")

    events = [e.status for e in service.store.events(transfer_id)]
    assert events == [
        "approved",
        "transferred",
        "declined",
        "reconsideration_requested",
        "reconsideration_upheld",
        "supervision_requested",
    ]
    clocks = {c.key: c for c in service.store.clocks(transfer_id)}
    assert clocks["reconsideration_request"].due_at.isoformat() == "2025-05-26T15:59:59+00:00"
    assert clocks["supervision_request"].closed_at is not None
    (delta,) = _published(service, "supervision_requested")
    assert delta["payload"]["history"][0]["status"] == "supervision_requested"
    assert delta["payload"]["evidence"] is None  # a delta, as on the two_laws 03 link


def test_a_forwarded_case_closes_the_forwarding_deadline_it_carries(
    service: TransferService,
) -> None:
    package = _platform_package(1)
    package["payload"].update(transfer_id="YS-350783-2025-0002", case_code="FJ3507832025SC73AA8D95")
    package["case_code"] = "FJ3507832025SC73AA8D95"
    service.handle(package)
    service.handle(sample("admin_criminal/samples/forward_notice-1.expected.json"))
    transfer = service.store.get("YS-350783-2025-0002")
    assert transfer is not None
    assert transfer.status == "forwarded"
    assert transfer.record["to_organ"] == {"name": "南平市公安局", "kind": "public_security"}
    (forward,) = [
        c
        for c in service.store.clocks("YS-350783-2025-0002")
        if c.key == "forward_to_competent_organ"
    ]
    assert forward.due_at.isoformat() == "2025-06-11T01:00:00+00:00"
    assert forward.closed_at.isoformat() == "2025-06-10T09:30:00+00:00"


def test_a_reverse_transfer_opens_an_administrative_case_at_the_receiving_agency(
    service: TransferService,
) -> None:
    service.remember_agency(
        {
            "name": "仙游县卫生健康局",
            "uscc": "11350322MB1P22132K",
            "division_code": "350322",
            "domain": "WJ",
        }
    )
    service.handle(sample("admin_criminal/samples/reverse_transfer-2.expected.json"))
    (case,) = _published(service, "case_opened")
    assert case["schema"] == "enforcement.case.v1"
    assert case["case_code"] == "FJ3503222025WJD2331FA3"
    payload = case["payload"]
    assert payload["case_source"] == "transfer_back"
    assert payload["agency"]["uscc"] == "11350322MB1P22132K"
    assert payload["source_case_no"] == "FXYS-350300-2025-0007"
    (clock_row,) = service.store.clocks("FXYS-350300-2025-0007")
    assert clock_row.key == "admin_handling"
    assert clock_row.due_at is None


def test_a_reverse_transfer_to_an_agency_never_seen_raises_an_alert_instead(
    service: TransferService,
) -> None:
    service.handle(sample("admin_criminal/samples/reverse_transfer-1.expected.json"))
    (alert,) = _published(service, "reverse_transfer_unaddressed")
    assert alert["agency"] == "泉州市惠安生态环境局"
    assert _published(service, "case_opened") == []


def _penalty(decision_no: str, decided_at: str) -> dict[str, Any]:
    envelope = sample("drug_admin/samples/query_penalties-1.expected.json", 1)
    envelope["payload"].update(decision_no=decision_no, decided_at=decided_at)
    return envelope


def test_a_third_penalty_within_two_years_proposes_a_transfer(
    service: TransferService, db: Database
) -> None:
    assert service.handle(_penalty("厦市监药罚〔2022〕31号", "2022-06-01T00:00:00+08:00")) == []
    assert service.handle(_penalty("厦市监药罚〔2023〕7号", "2023-02-01T00:00:00+08:00")) == []
    (transfer_id,) = service.handle(_penalty("厦市监药罚〔2024〕12号", "2024-03-06T00:00:00+08:00"))
    transfer = service.store.get(str(transfer_id))
    assert transfer is not None
    assert transfer.record["triggered_by"] == {
        "rule_id": "SC-XS225-03",
        "figures": {"prior_penalties_2y": "2", "threshold_prior_penalties_2y": "2"},
    }
    with service.store.db.read() as conn:
        rows = conn.exec_driver_sql("SELECT party_key FROM ebus_transfer_ledger").all()
    party = sample("drug_admin/samples/query_penalties-1.expected.json", 1)["payload"]["party"]
    assert {row[0] for row in rows} == {service.ledger.party_key(party)}
    assert all(
        party["id_number"] not in json.dumps(r.detail, ensure_ascii=False)
        for r in AuditStore(db).trace(transfer.case_code)
    )


def test_penalties_older_than_two_years_and_resends_do_not_count(
    service: TransferService,
) -> None:
    first = _penalty("厦市监药罚〔2022〕1号", "2022-03-05T00:00:00+08:00")
    assert service.handle(first) == []
    assert service.handle(first | {"message_id": "01JTZ6Q8M4V2A7K9C1E3G5H7J9"}) == []
    assert service.handle(_penalty("厦市监药罚〔2023〕7号", "2023-02-01T00:00:00+08:00")) == []
    assert service.handle(_penalty("厦市监药罚〔2024〕12号", "2024-03-06T00:00:00+08:00")) == []
    assert service.store.list() == []


def test_answers_out_of_order_and_twice_are_merged_once_in_time_order(
    service: TransferService,
) -> None:
    service.handle(_platform_package(1))
    filing = sample("admin_criminal/samples/filing_decision-1.expected.json")
    receipt = sample("admin_criminal/samples/receipt_signed-1.expected.json")
    assert service.handle(filing).added == ("filed",)  # type: ignore[union-attr]
    assert service.handle(receipt).added == ("received",)  # type: ignore[union-attr]
    assert service.handle(receipt).duplicate  # type: ignore[union-attr]
    assert service.handle(dict(filing, message_id="01JTZ6Q8M4V2A7K9C1E3G5H7J9")).duplicate  # type: ignore[union-attr]
    transfer_id = "YS-350322-2025-0004"
    assert [e.status for e in service.store.events(transfer_id)] == [
        "approved",
        "transferred",
        "received",
        "filed",
    ]
    assert service.store.get(transfer_id).status == "filed"  # type: ignore[union-attr]
    review = next(c for c in service.store.clocks(transfer_id) if c.key == "police_filing_review")
    assert review.closed_at is not None
    assert review.alerted_at is None


def test_an_answer_for_an_unknown_transfer_is_refused_with_a_reason(
    service: TransferService,
) -> None:
    with pytest.raises(UnknownTransfer, match="YS-350322-2025-0004: 'received'"):
        service.handle(sample("admin_criminal/samples/receipt_signed-1.expected.json"))
    assert service.store.list() == []


def test_a_procuratorate_notice_is_attached_to_its_case_and_alerted_once(
    service: TransferService,
) -> None:
    notices = sample("two_laws/samples/fetch_notices_response-1.expected.json")
    assert service.handle(notices) is True
    assert service.handle(notices) is False
    (alert,) = _published(service, "procuratorate_notice")
    assert alert["notice_no"] == notices["payload"]["notice_no"]
    assert "content" not in json.dumps(alert)
    assert len(service.store.notices(notices["payload"]["case_code"])) == 1


def test_the_platform_approves_by_a_canonical_command_on_the_feed(
    service: TransferService, db: Database
) -> None:
    transfer_id = _propose(service)
    command = {
        "message_id": "01JXA3D5F7H9K1M3P5R7T9V1X4",
        "schema": "enforcement.case_transfer.v1",
        "source_system": "platform",
        "source_message_id": f"{transfer_id}:approved",
        "case_code": "FJ3508022025HJ68F323DF",
        "classification": "L2",
        "payload": {
            "transfer_id": transfer_id,
            "direction": "admin_to_criminal",
            "case_code": "FJ3508022025HJ68F323DF",
            "from_agency": None,
            "to_organ": POLICE,
            "suspected_offence": None,
            "triggered_by": None,
            "evidence": None,
            "documents": None,
            "status": "approved",
            "deadlines": [],
            "history": [
                {
                    "status": "approved",
                    "at": "2025-06-03T16:00:00+08:00",
                    "by": "局长 林某",
                    "note": "同意移送",
                }
            ],
        },
    }
    assert service.handle(command).added == ("approved",)  # type: ignore[union-attr]
    assert service.handle(command).duplicate  # type: ignore[union-attr]
    transfer = service.store.get(transfer_id)
    assert transfer is not None
    assert transfer.record["to_organ"] == POLICE
    assert transfer.record["triggered_by"]["rule_id"] == "HJ-XS338-02"  # kept from the proposal
    assert _published(service, "approved") == []  # on the feed already: not echoed
    refusal = dict(command, message_id="01JXA3D5F7H9K1M3P5R7T9V1X5")
    refusal["payload"] = dict(
        command["payload"],
        status="refused",
        history=[
            dict(command["payload"]["history"][0], status="refused", at="2025-06-03T17:00:00+08:00")
        ],
    )
    with pytest.raises(IllegalTransition, match="'refused' is not allowed from 'approved'"):
        service.handle(refusal)


def test_police_answers_go_out_as_the_platforms_deltas_a_late_one_with_the_status_again(
    service: TransferService,
) -> None:
    service.handle(_platform_package(1))
    filing = sample("admin_criminal/samples/filing_decision-1.expected.json")
    receipt = sample("admin_criminal/samples/receipt_signed-1.expected.json")
    service.handle(filing)
    service.handle(receipt)
    service.handle(dict(receipt, message_id="01JTZ6Q8M4V2A7K9C1E3G5H7J9"))  # nothing new
    sent = [json.loads(row["body"]) for row in service.store.outbox()]
    assert [(m["source_system"], m["payload"]["status"]) for m in sent] == [
        ("platform", "filed"),
        ("platform", "received"),
        ("platform", "filed"),  # the late receipt is followed by where the transfer stands
    ]
    assert [m["causation_id"] for m in sent] == [
        filing["message_id"],
        receipt["message_id"],
        receipt["message_id"],
    ]
    assert len({m["source_message_id"] for m in sent}) == 3
    for message in sent:
        (step,) = message["payload"]["history"]  # deltas: one event each
        assert step["status"] == message["payload"]["status"]
        assert message["payload"]["evidence"] is None


def test_a_platform_package_and_a_refused_answer_are_not_echoed(
    service: TransferService,
) -> None:
    service.handle(_platform_package(1))  # the platform's own message: on the feed already
    assert service.store.outbox() == []
    declined = sample(
        "admin_criminal/samples/non_filing_decision-1.expected.json",
        transfer_id="YS-350322-2025-0004",
        case_code="FJ3503222025SC28FBB248",
    )
    service.handle(sample("admin_criminal/samples/filing_decision-1.expected.json"))
    with pytest.raises(IllegalTransition):
        service.handle(declined)
    assert [row["kind"] for row in service.store.outbox()] == ["filed"]
