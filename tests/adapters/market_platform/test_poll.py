"""The poller against the platform simulator on a real temporary directory (file:// URL)."""

from __future__ import annotations

import pytest

from adapters._transports.filedrop import md5_hex
from adapters.market_platform import SPEC
from adapters.market_platform._poll import registry_key
from adapters.market_platform.simulator import MarketPlatformSimulator, task_row
from runner.adapter_api import TransientError
from runner.dryrun import map_message
from tests.adapters.market_platform._support import PROJECT, config, context


@pytest.fixture
def platform():
    with MarketPlatformSimulator() as simulator:
        yield simulator


def _poll(platform: MarketPlatformSimulator, ctx=None):
    ctx = ctx or context()
    SPEC.poll(ctx, config(platform.url))
    return ctx


def _err(platform: MarketPlatformSimulator, name: str) -> str:
    return (platform.folder("error") / f"{name}.err").read_text(encoding="utf-8")


def test_a_ready_file_is_emitted_once_remembered_and_archived_by_its_date(platform):
    name = platform.drop_task([task_row(1), task_row(2)], day="20250408")
    ctx = _poll(platform)
    assert [(m, raw.meta["file"]) for m, raw in ctx.emitted] == [("task", name)]
    assert ctx.emitted[0][1].body == platform.dropped[name]
    assert ctx.facts[registry_key(name)]["state"] == "archived"
    assert ctx.facts[registry_key(name)]["rows"] == 2
    assert platform.files("archive/20250408") == [name, f"{name}.ok"]
    assert platform.files("inbox") == []
    mapped = map_message(PROJECT, "market_platform", "task", ctx.emitted[0][1])
    assert len(mapped.envelopes) == 2


def test_a_file_without_its_marker_is_never_opened_until_the_marker_comes(platform):
    name = platform.grow([task_row(1), task_row(2), task_row(3)])
    ctx = _poll(platform)
    assert ctx.emitted == []
    assert ctx.rejected == []
    assert platform.files("inbox") == [name]
    platform.finish(name)
    _poll(platform, ctx)
    assert [raw.body for _, raw in ctx.emitted] == [platform.dropped[name]]


def test_a_zero_byte_marker_of_an_old_platform_version_is_accepted(platform):
    platform.drop_task([task_row(1)], marker="empty")
    assert len(_poll(platform).emitted) == 1


@pytest.mark.parametrize(
    ("marker", "rule", "reason"),
    [
        ("bad_md5", "md5_mismatch", "md5 mismatch"),
        ("bad_count", "count_mismatch", "count mismatch"),
        ("bad_name", "marker_name", "marker name mismatch"),
    ],
    ids=["wrong md5", "wrong row count", "wrong name"],
)
def test_a_file_its_marker_does_not_match_goes_to_error_and_is_dead_lettered(
    platform, marker: str, rule: str, reason: str
):
    name = platform.drop_task([task_row(1), task_row(2)], marker=marker)
    ctx = _poll(platform)
    assert ctx.emitted == []
    ((message, raw, error),) = ctx.rejected
    assert (message, error.system, error.rule) == ("task", "market_platform", rule)
    assert raw.meta["file"] == name
    assert _err(platform, name).startswith(reason)
    assert _err(platform, name).count("\n") == 1
    assert platform.files("error") == [name, f"{name}.err", f"{name}.ok"]
    assert registry_key(name) not in ctx.facts


def test_a_utf8_file_is_refused_with_unknown_header(platform):
    data = "检查记录编号,任务编号\r\nJCJL1,SSJ-1\r\n".encode()
    name = platform.drop_raw("TASK_20250408_009.csv", data, b"")
    ctx = _poll(platform)
    assert [e.rule for _, _, e in ctx.rejected] == ["unknown_header"]
    assert _err(platform, name).startswith("unknown header")


def test_a_name_processed_before_is_never_processed_again(platform):
    name = platform.drop_task([task_row(1)])
    ctx = _poll(platform)
    platform.redrop(name)
    _poll(platform, ctx)
    assert len(ctx.emitted) == 1
    assert [e.rule for _, _, e in ctx.rejected] == ["duplicate_file"]
    assert _err(platform, name) == "duplicate file name: already processed\n"


def test_after_a_crash_between_emit_and_archive_the_file_is_only_moved(platform):
    name = platform.drop_task([task_row(1)])
    ctx = context()
    ctx.remember(
        registry_key(name),
        {"md5": md5_hex(platform.dropped[name]), "state": "emitted"},
    )
    _poll(platform, ctx)
    assert ctx.emitted == []
    assert ctx.rejected == []
    assert platform.files("archive/20250408") == [name, f"{name}.ok"]
    assert ctx.facts[registry_key(name)]["state"] == "archived"


def test_a_bad_file_does_not_stop_the_good_ones_of_the_same_cycle(platform):
    bad = platform.drop_task([task_row(1)], marker="bad_md5")
    good = platform.drop_task([task_row(2)])
    ctx = _poll(platform)
    assert [raw.meta["file"] for _, raw in ctx.emitted] == [good]
    assert [raw.meta["file"] for _, raw, _ in ctx.rejected] == [bad]


def test_files_other_than_task_files_are_ignored(platform):
    platform.drop_raw("readme.txt", b"hello", b"")
    platform.drop_raw("TASK_2025_1.csv", b"x", b"")
    ctx = _poll(platform)
    assert ctx.emitted == []
    assert ctx.rejected == []
    assert platform.files("inbox") == [
        "TASK_2025_1.csv",
        "TASK_2025_1.csv.ok",
        "readme.txt",
        "readme.txt.ok",
    ]


def test_a_file_over_the_size_limit_is_refused_unread(platform):
    name = platform.drop_task([task_row(i) for i in range(1, 40)])
    ctx = context()
    SPEC.poll(ctx, config(platform.url, max_file_bytes=1000))
    assert [e.rule for _, _, e in ctx.rejected] == ["too_large"]
    assert _err(platform, name).startswith("too large")


def test_an_unreachable_drop_fails_the_cycle_transiently_and_loses_nothing(platform):
    name = platform.drop_task([task_row(1)])
    platform.take_down()
    with pytest.raises(TransientError) as caught:
        _poll(platform)
    assert caught.value.code == "DROP_IO"
    platform.bring_up()
    assert [raw.meta["file"] for _, raw in _poll(platform).emitted] == [name]
