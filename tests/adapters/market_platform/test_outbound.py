"""Result files dropped through SPEC.connect and collected by the platform simulator."""

from __future__ import annotations

from contextlib import closing

import pytest

from adapters.market_platform import SPEC
from adapters.market_platform.simulator import MarketPlatformSimulator
from runner.adapter_api import MessageRejected, Outgoing, TransientError
from runner.dryrun import render_message
from tests.adapters.market_platform._support import PROJECT, SAMPLES, config, inputs


@pytest.fixture
def platform():
    with MarketPlatformSimulator() as simulator:
        yield simulator


def _call(stem: str) -> Outgoing:
    return render_message(PROJECT, "market_platform", "result", inputs(stem), {})


def test_a_result_file_and_its_marker_are_dropped_and_imported_by_the_platform(platform):
    call = _call("result-2")
    with closing(SPEC.connect(config(platform.url))) as link:
        answer = link.send(call)
    assert answer.meta["file"] == "RESULT_SSJ-350982-2025-0003.xml"
    assert platform.files("outbox") == [
        "RESULT_SSJ-350982-2025-0003.xml",
        "RESULT_SSJ-350982-2025-0003.xml.ok",
    ]
    assert (platform.outbox / "RESULT_SSJ-350982-2025-0003.xml.ok").read_bytes() == (
        SAMPLES / "result-2.xml.ok"
    ).read_bytes()
    assert platform.collect() == ["RESULT_SSJ-350982-2025-0003.xml"]
    assert platform.rejected == []
    assert {r.record_no: (r.result_code, r.case_code) for r in platform.records.values()} == {
        "JCJL350982202500030001": ("09", "FJ3509822025SCDC3A61B8"),
        "JCJL350982202500030002": ("13", None),
    }
    assert platform.files("outbox") == []


def test_the_next_file_of_a_task_waits_until_the_platform_collected_the_last(platform):
    first, again = _call("result-1"), _call("result-1")
    with closing(SPEC.connect(config(platform.url))) as link:
        link.send(first)
        platform.hold(60)
        platform.collect()
        with pytest.raises(TransientError) as caught:
            link.send(again)
        assert caught.value.code == "NOT_COLLECTED"
        platform.hold(0)
        platform.collect()
        link.send(again)
    assert platform.collected == ["RESULT_SSJ-350783-2025-0012.xml"]
    assert platform.files("outbox")[0] == "RESULT_SSJ-350783-2025-0012.xml"


def test_files_of_different_tasks_do_not_wait_for_each_other(platform):
    with closing(SPEC.connect(config(platform.url))) as link:
        for stem in ("result-1", "result-2", "result-3"):
            link.send(_call(stem))
    assert len(platform.collect()) == 3
    assert len(platform.records) == 4


def test_an_unreachable_drop_is_transient_and_the_link_recovers(platform):
    with closing(SPEC.connect(config(platform.url))) as link:
        platform.take_down()
        with pytest.raises(TransientError):
            link.send(_call("result-1"))
        platform.bring_up()
        link.send(_call("result-1"))
    assert platform.collect() == ["RESULT_SSJ-350783-2025-0012.xml"]


def test_a_call_without_a_result_file_name_is_refused(platform):
    with closing(SPEC.connect(config(platform.url))) as link, pytest.raises(MessageRejected):
        link.send(Outgoing(body=b"<x/>", path="../inbox/TASK_20250101_001.csv"))
    assert platform.files("inbox") == []


def test_the_platform_refuses_a_file_that_breaks_the_schema(platform):
    (platform.outbox / "RESULT_X-1.xml").write_bytes(b"<CheckResultFile/>")
    (platform.outbox / "RESULT_X-1.xml.ok").write_bytes(b"RESULT_X-1.xml|1|0\r\n")
    platform.collect()
    assert [name for name, _ in platform.rejected] == ["RESULT_X-1.xml"]
    assert platform.files("outbox/rejected") == ["RESULT_X-1.xml", "RESULT_X-1.xml.ok"]
