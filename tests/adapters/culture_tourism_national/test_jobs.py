"""The batch jobs against the loopback simulator (real HTTP, real WSDL): upload, result polling,
blacklist download — and what the ministry's side checks and answers (README §1.1, §2, §5)."""

from __future__ import annotations

import copy
import datetime as dt

import httpx
import pytest
from zeep import Client, Settings

from adapters._simulators.http import Fault
from adapters._simulators.polling import RecordingPollContext
from adapters.culture_tourism_national import (
    BLACKLIST_JOB,
    SPEC,
    UPLOAD_JOB,
    open_transport,
    query_batch_result_request,
)
from adapters.culture_tourism_national._signing import auth_fields
from adapters.culture_tourism_national._wire import envelope
from runner.adapter_api import PermanentError, TransientError
from tests.adapters.culture_tourism_national._support import (
    DayContext,
    config,
    mapped,
    sample_json,
    unstamped,
)

D1, D2 = dt.date(2024, 3, 5), dt.date(2024, 3, 6)
ENTRY = {
    "entryId": "WLHMD-20240305-000017", "listType": "1", "action": "A", "subjectType": "1",
    "name": "广州市天河区畅游国际旅行社有限公司", "creditCode": "91440106MA59K2B683",
    "legalRep": "梁家辉", "areaCode": "440106", "decisionOrg": "广东省文化和旅游厅",
    "decisionNo": "粤文旅失信〔2024〕3号", "decisionDate": "2024-03-04",
    "measures": "WLSC01;WLSC02", "eventTime": "2024-03-05 10:21:33",
}  # fmt: skip


@pytest.fixture
def ctx(connection, clock) -> DayContext:
    return DayContext(
        connection.send,
        clock,
        {
            D1: sample_json("upload_daily_package-1.input.json"),
            D2: sample_json("upload_daily_package-2.input.json"),
        },
    )


def outcomes(ctx: DayContext) -> list[tuple[str, str, str | None]]:
    result = []
    for message, raw in ctx.emitted:
        outcome = mapped(message, raw.body, raw.meta).outcome
        assert outcome is not None
        result.append((message, outcome.outcome, outcome.code))
    return result


def test_the_spec_declares_both_daily_jobs_with_their_schedules():
    assert {j.name: j.schedule for j in SPEC.batch_jobs} == {
        "daily_upload": "30 1 * * *",
        "blacklist": "30 6 * * *",
    }


def test_the_simulator_serves_the_wsdl_that_zeep_loads(simulator):
    client = Client(simulator.wsdl_url, settings=Settings(forbid_dtd=True, forbid_entities=True))
    operations = sorted(client.service._binding._operations)
    assert operations == ["downloadBlacklist", "queryBatchResult", "uploadDailyPackage"]
    assert httpx.get(simulator.wsdl_url).text.count(simulator.endpoint) == 1


def test_a_day_is_uploaded_its_result_polled_and_a_second_run_does_nothing(
    ctx, settings, simulator
):
    UPLOAD_JOB.run(ctx, settings, D1)
    assert outcomes(ctx) == [
        ("upload_daily_package_response", "complete", "0"),
        ("query_batch_result", "complete", "0"),
    ]
    assert ctx.facts["upload:20240305"]["stage"] == "done"
    assert simulator.batches["WLSC-35-20240305-0001"].records[3] == (
        "DECISION",
        "榕文执罚字〔2024〕第015号",
    )
    calls = len(ctx.exchanges)
    UPLOAD_JOB.run(ctx, settings, D1)
    assert len(ctx.exchanges) == calls


def test_uploading_the_same_package_again_is_success_with_the_original_batch(
    ctx, settings, simulator
):
    UPLOAD_JOB.run(ctx, settings, D1)
    ctx.facts.clear()  # a lost state: the job starts over
    UPLOAD_JOB.run(ctx, settings, D1)
    assert outcomes(ctx)[2] == ("upload_daily_package_response", "complete", "2003")
    assert list(simulator.batches) == ["WLSC-35-20240305-0001"]


def test_processing_is_asked_again_no_sooner_than_the_query_interval(
    ctx, settings, simulator, clock
):
    simulator.processing_s = 1200
    with pytest.raises(TransientError) as pending:
        UPLOAD_JOB.run(ctx, settings, D1)
    assert pending.value.code == "PROCESSING"
    assert pending.value.retry_after == 300
    clock.advance(60)
    calls = len(ctx.exchanges)
    with pytest.raises(TransientError):
        UPLOAD_JOB.run(ctx, settings, D1)
    assert len(ctx.exchanges) == calls  # too early: no call
    clock.advance(1200)
    UPLOAD_JOB.run(ctx, settings, D1)
    assert [o[1] for o in outcomes(ctx)] == ["complete", "pending", "complete"]


def test_a_partial_result_finishes_the_day_with_the_refused_record(ctx, settings, simulator):
    simulator.refuse_records["厦文旅罚字〔2024〕第008号"] = "E204"
    UPLOAD_JOB.run(ctx, settings, D2)
    message, raw = ctx.emitted[-1]
    records = mapped(message, raw.body, raw.meta).outcome.records
    assert [(r.status, r.code) for r in records] == [("accepted", None), ("rejected", "E204")]
    assert ctx.facts["upload:20240306"]["status"] == "PARTIAL"


def test_a_failed_batch_fails_the_job_and_the_next_run_uploads_the_day_anew(
    ctx, settings, simulator
):
    simulator.fail_packages["20240305"] = "E002"
    with pytest.raises(PermanentError) as failed:
        UPLOAD_JOB.run(ctx, settings, D1)
    assert failed.value.code == "E002"
    del simulator.fail_packages["20240305"]
    simulator.batches.clear()  # the ministry accepts a FAILED date again (README §2.5)
    UPLOAD_JOB.run(ctx, settings, D1)
    assert ctx.facts["upload:20240305"]["stage"] == "done"


def test_a_different_package_for_a_finished_date_is_refused_permanently(ctx, settings, simulator):
    UPLOAD_JOB.run(ctx, settings, D1)
    ctx.facts.clear()
    ctx.archive[D1] = ctx.archive[D1][:2]
    with pytest.raises(PermanentError) as refused:
        UPLOAD_JOB.run(ctx, settings, D1)
    assert refused.value.code == "2004"


def test_a_wrong_secret_is_a_permanent_signature_fault(ctx, simulator):
    with pytest.raises(PermanentError) as refused:
        UPLOAD_JOB.run(ctx, config(simulator.endpoint, app_secret="wrong"), D1)
    assert refused.value.code == "1001"
    assert "wrong" not in str(refused.value)


def test_a_clock_off_by_more_than_ten_minutes_is_a_transient_timestamp_fault(ctx, settings, clock):
    ctx._clock = lambda: clock.now + dt.timedelta(minutes=11)
    with pytest.raises(TransientError) as refused:
        UPLOAD_JOB.run(ctx, settings, D1)
    assert refused.value.code == "1002"


def test_a_reused_nonce_is_refused(connection, settings, clock):
    call = query_batch_result_request(
        settings, "WLSC-35-20240305-0001", clock.now, "aaaaaaaaaaaaaaaa"
    )
    connection.send(call)
    answer = connection.send(call)
    assert answer.meta["status"] == "500"
    assert b"<errorCode>1004</errorCode>" in answer.body


def test_namespace_qualified_children_are_ignored_by_the_server_which_answers_1003(
    connection, settings, clock
):
    auth = auth_fields(settings.app_key, "Wl35@exch#2023test", clock.now)
    good = query_batch_result_request(settings, "WLSC-35-20240305-0001", clock.now)
    body = (
        envelope("queryBatchResult", auth, (("batchId", "X"),))
        .replace(b"<batchId>", b"<ex:batchId>")
        .replace(b"</batchId>", b"</ex:batchId>")
    )
    answer = connection.send(type(good)(body, good.headers, good.method, good.path, good.operation))
    assert b"<code>1003</code>" in answer.body


def test_a_503_and_a_timeout_are_transient(ctx, simulator):
    simulator.inject(Fault("status", status=503))
    settings = config(simulator.endpoint, read_timeout_s=0.3, upload_read_timeout_s=0.3)
    with pytest.raises(TransientError) as unavailable:
        UPLOAD_JOB.run(ctx, settings, D1)
    assert unavailable.value.code == "HTTP503"
    simulator.inject(Fault("delay", seconds=1.0))
    link = open_transport(settings)
    ctx._send = link.send
    try:
        with pytest.raises(TransientError) as late:
            UPLOAD_JOB.run(ctx, settings, D1)
        assert late.value.code == "TIMEOUT"
    finally:
        link.close()


def test_a_malformed_answer_fails_the_upload_without_a_traceback(ctx, settings, simulator):
    simulator.inject(Fault("malformed", body=b"<S:Envelope><broken"))
    with pytest.raises(PermanentError) as broken:
        UPLOAD_JOB.run(ctx, settings, D1)
    assert "unreadable answer" in str(broken.value)


def test_a_day_without_messages_is_uploaded_as_an_empty_package(
    connection, settings, clock, simulator
):
    quiet = RecordingPollContext(connection.send, now=clock.now)  # no archive, no renderer
    UPLOAD_JOB.run(quiet, settings, D1)
    (batch,) = simulator.batches.values()
    assert (batch.biz_date, batch.records, batch.status) == ("20240305", (), "SUCCESS")


def test_the_upload_job_declares_the_schemas_it_reads_and_only_them():
    assert UPLOAD_JOB.archives == ("enforcement.case.v1", "enforcement.penalty_decision.v1")
    assert BLACKLIST_JOB.archives == ()


def test_the_package_leaves_out_what_the_mapping_does_not_accept(ctx, settings, simulator):
    other = copy.deepcopy(ctx.archive[D1][0])
    other["payload"]["agency"]["domain"] = "SC"  # not a culture/tourism agency
    ctx.archive[D1] = [other, *ctx.archive[D1][1:]]
    UPLOAD_JOB.run(ctx, settings, D1)
    (batch,) = simulator.batches.values()
    assert len(batch.records) == 4
    assert other["payload"]["case_code"] not in {r for _, r in batch.records}


def test_the_blacklist_before_six_is_retried_in_half_an_hour_then_mapped(
    ctx, settings, simulator, clock
):
    clock.now = clock.now.replace(hour=5)
    with pytest.raises(TransientError) as early:
        BLACKLIST_JOB.run(ctx, settings, D1)
    assert (early.value.code, early.value.retry_after) == ("3001", 1800)
    simulator.set_blacklist("20240305", [ENTRY])
    BLACKLIST_JOB.run(ctx, settings, D1)
    ((message, raw),) = ctx.emitted
    assert [e["source_message_id"] for e in unstamped(mapped(message, raw.body))] == [
        ENTRY["entryId"]
    ]
    calls = len(ctx.exchanges)
    BLACKLIST_JOB.run(ctx, settings, D1)
    assert len(ctx.exchanges) == calls


def test_a_corrected_event_resent_on_a_later_day_keeps_its_entry_id(ctx, settings, simulator):
    simulator.set_blacklist("20240305", [ENTRY])
    simulator.set_blacklist("20240306", [{**ENTRY, "measures": "WLSC01"}], utf8_bom=True)
    simulator.mime_base64 = False
    BLACKLIST_JOB.run(ctx, settings, D1)
    BLACKLIST_JOB.run(ctx, settings, D2)
    ids = [unstamped(mapped(m, raw.body))[0]["source_message_id"] for m, raw in ctx.emitted]
    assert ids == [ENTRY["entryId"]] * 2  # the bus recognises the resend by its source message id


@pytest.mark.parametrize("kind", ["sha256", "zip_bomb", "traversal", "dtd", "not_zip"])
def test_a_download_that_cannot_be_opened_is_dead_lettered_and_fails_the_job(
    ctx, settings, simulator, kind
):
    simulator.set_blacklist("20240305", [ENTRY])
    simulator.corrupt_next_download(kind)
    with pytest.raises(PermanentError):
        BLACKLIST_JOB.run(ctx, settings, D1)
    ((message, _, error),) = ctx.rejected
    assert message == "download_blacklist"
    assert error.system == "culture_tourism_national"
    assert ctx.emitted == []
    assert "blacklist:20240305" not in ctx.facts
