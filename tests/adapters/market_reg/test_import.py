"""The nightly import (batch job and poll) against the exporter simulator on real directories."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.market_reg import SPEC, nightly_import
from adapters.market_reg._import import night_key
from adapters.market_reg.simulator import MarketRegSimulator, case_record, decision_record
from runner.adapter_api import RawMessage, TransientError
from runner.dryrun import map_message
from schemas.timeutil import SHANGHAI
from tests.adapters.market_reg._support import (
    NIGHTS,
    PROJECT,
    config,
    context,
    drop_sample_night,
    expected,
    unstamped,
)

DAY = "20240310"
DATE = dt.date(2024, 3, 10)
BEFORE_DEADLINE = dt.datetime(2024, 3, 11, 2, 40, tzinfo=SHANGHAI)
AFTER_DEADLINE = dt.datetime(2024, 3, 11, 6, 30, tzinfo=SHANGHAI)


@pytest.fixture
def exporter():
    with MarketRegSimulator() as simulator:
        yield simulator


def _run(exporter, ctx=None, date=DATE, **extra):
    ctx = ctx or context(BEFORE_DEADLINE)
    nightly_import(ctx, config(exporter.url, **extra), date)
    return ctx


def _mapped(raw: RawMessage, kind: str):
    return map_message(PROJECT, "market_reg", kind, raw)


def test_the_sample_nights_imported_in_order_give_the_expected_envelopes(exporter):
    for night in (3, 1, 2):  # dropped out of order: imported in export_date order
        drop_sample_night(exporter.inbox, night)
    ctx = context()
    nightly_import(ctx, config(exporter.url), dt.date(2024, 3, 7))
    assert [(m, raw.meta["file"]) for m, raw in ctx.emitted] == [
        (kind, f"{kind}_{NIGHTS[n]}.jsonl") for n in (1, 2, 3) for kind in ("cases", "decisions")
    ]
    for (kind, raw), (night, want) in zip(
        ctx.emitted, [(n, k) for n in (1, 2, 3) for k in ("cases", "decisions")], strict=True
    ):
        assert kind == want
        got = [unstamped(e.model_dump(mode="json")) for e in _mapped(raw, kind).envelopes]
        assert got == expected(kind, night)
    assert ctx.rejected == []
    assert exporter.files() == []
    assert len(exporter.files("processed")) == 9
    report = exporter.report("20240305")
    assert report is not None
    assert report["manifest"] == "ok"
    assert report["batch"] == 1
    assert [(f["file"], f["status"], f["records"], f["imported"]) for f in report["files"]] == [
        ("cases_20240305.jsonl", "imported", 3, 3),
        ("decisions_20240305.jsonl", "imported", 2, 2),
    ]


def test_a_second_run_imports_nothing_again(exporter):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)])
    ctx = _run(exporter)
    assert len(ctx.emitted) == 2
    _run(exporter, ctx)
    assert len(ctx.emitted) == 2
    assert ctx.facts[night_key(DAY)]["state"] == "done"


def test_a_bad_sign_refuses_the_whole_night_and_the_re_export_is_imported(exporter):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)], fault="bad_sign")
    ctx = _run(exporter)
    assert ctx.emitted == []
    [(message, _, error)] = ctx.rejected
    assert (message, error.rule, error.field) == ("manifest", "bad_signature", "manifest.sign")
    assert sorted(exporter.files("refused")) == [
        f"cases_{DAY}.jsonl",
        f"decisions_{DAY}.jsonl",
        f"manifest_{DAY}.json",
    ]
    report = exporter.report(DAY)
    assert report is not None
    assert report["manifest"] == "refused"
    exporter.reexport(DAY)
    _run(exporter, ctx)
    assert [m for m, _ in ctx.emitted] == ["cases", "decisions"]
    assert ctx.facts[night_key(DAY)]["batch"] == 2


@pytest.mark.parametrize("fault", ["sha256", "size", "lines", "no_bom"])
def test_a_file_that_does_not_match_the_manifest_is_refused_and_the_other_imported(
    exporter, fault: str
):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)], fault=fault)
    ctx = _run(exporter)
    assert [raw.meta["file"] for _, raw in ctx.emitted] == [f"cases_{DAY}.jsonl"]
    [(message, _, error)] = ctx.rejected
    rule = {"sha256": "sha256_mismatch", "size": "size_mismatch", "lines": "lines_mismatch"}
    assert (message, error.rule) == ("decisions", rule.get(fault, "missing_bom"))
    assert f"decisions_{DAY}.jsonl" in str(error)
    assert exporter.files("refused") == [f"decisions_{DAY}.jsonl", f"manifest_{DAY}.json"]
    assert exporter.files("processed") == [f"cases_{DAY}.jsonl"]
    report = exporter.report(DAY)
    assert report is not None
    assert [f["status"] for f in report["files"]] == ["imported", "refused"]


def test_a_higher_batch_re_imports_the_night_and_a_stale_one_is_refused(exporter):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)])
    ctx = _run(exporter)
    exporter.reexport(DAY)
    _run(exporter, ctx)
    assert len(ctx.emitted) == 4
    assert exporter.files("processed") == sorted(
        [
            f"cases_{DAY}.jsonl",
            f"cases_{DAY}.jsonl.1",
            f"decisions_{DAY}.jsonl",
            f"decisions_{DAY}.jsonl.1",
            f"manifest_{DAY}.json",
            f"manifest_{DAY}.json.1",
        ]
    )
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)], batch=2)
    _run(exporter, ctx)
    assert len(ctx.emitted) == 4
    assert ctx.rejected[-1][2].rule == "stale_batch"


def test_no_manifest_is_waited_for_then_reported_late(exporter):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)], fault="no_manifest")
    with pytest.raises(TransientError) as caught:
        _run(exporter)
    assert caught.value.code == "MANIFEST_PENDING"
    with pytest.raises(TransientError) as late:
        _run(exporter, context(AFTER_DEADLINE))
    assert late.value.code == "MANIFEST_LATE"
    exporter.publish_manifest(DAY)
    assert len(_run(exporter).emitted) == 2


def test_a_listed_file_missing_is_waited_for_until_the_deadline_then_refused(exporter):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)], fault="missing")
    ctx = context(BEFORE_DEADLINE)
    with pytest.raises(TransientError) as caught:
        _run(exporter, ctx)
    assert caught.value.code == "FILE_MISSING"
    assert ctx.emitted == []
    late = _run(exporter, context(AFTER_DEADLINE))
    assert [m for m, _ in late.emitted] == ["cases"]
    assert late.rejected[0][2].rule == "file_missing"


def test_a_part_file_and_a_night_after_the_date_are_left_alone(exporter):
    exporter.start_upload(f"cases_{DAY}.jsonl", b"\xef\xbb\xbf")
    exporter.export_night("20240311", [case_record(1)], [decision_record(1)])
    with pytest.raises(TransientError):
        _run(exporter)
    assert exporter.files() == sorted(
        [
            f"cases_{DAY}.jsonl.part",
            "cases_20240311.jsonl",
            "decisions_20240311.jsonl",
            "manifest_20240311.json",
        ]
    )


def test_a_run_that_died_after_the_first_file_resumes_with_the_second(exporter):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)])

    class Dies(Exception):
        pass

    ctx = context(BEFORE_DEADLINE)
    emit = ctx.emit

    def emit_then_die(message_id: str, raw: RawMessage) -> None:
        if message_id == "decisions":
            raise Dies
        emit(message_id, raw)

    ctx.emit = emit_then_die  # type: ignore[method-assign]
    with pytest.raises(Dies):
        _run(exporter, ctx)
    ctx.emit = emit  # type: ignore[method-assign]
    _run(exporter, ctx)
    assert [m for m, _ in ctx.emitted] == ["cases", "decisions"]


def test_an_unreachable_drop_is_a_transient_error_and_nothing_moves(exporter):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)])
    exporter.take_down()
    try:
        with pytest.raises(TransientError) as caught:
            _run(exporter)
        assert caught.value.code == "DROP_IO"
    finally:
        exporter.bring_up()
    assert len(exporter.files()) == 3


def test_the_report_counts_repeats_and_unreadable_lines_without_personal_values(exporter):
    person = decision_record(2, person=True)
    exporter.export_night(
        DAY, [case_record(1), case_record(1), b"not json"], [person], crlf=True, blank_tail=True
    )
    _run(exporter)
    report = exporter.report(DAY)
    assert report is not None
    cases = report["files"][0]
    assert (cases["records"], cases["duplicates"], cases["imported"]) == (3, 1, 1)
    assert cases["rejected"][0]["line"] == 3
    assert person["dsr"]["zjhm"] not in str(report)
    assert person["dsr"]["dz"] not in str(report)


def test_poll_imports_only_when_watching(exporter):
    exporter.export_night(DAY, [case_record(1)], [decision_record(1)])
    ctx = context(BEFORE_DEADLINE)
    assert SPEC.poll is not None
    SPEC.poll(ctx, config(exporter.url))
    assert ctx.emitted == []
    SPEC.poll(ctx, config(exporter.url, watch=True))
    assert len(ctx.emitted) == 2


def test_the_batch_job_is_declared_for_the_scheduler():
    [job] = SPEC.batch_jobs
    assert job.run is nightly_import
    assert job.name == "market_reg-nightly-import"
