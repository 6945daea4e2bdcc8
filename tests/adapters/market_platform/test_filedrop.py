"""The shared file-drop transport on real temporary directories (file:// URLs)."""

from __future__ import annotations

import re
from pathlib import Path

import paramiko
import pytest

from adapters._transports.filedrop import FileDrop, FileDropConfig, Marker, PinnedHostKey, md5_hex
from adapters.market_platform import MarketPlatformConfig
from runner.adapter_api import MessageRejected, TransientError

TASK = re.compile(r"^TASK_\d{8}_\d{3}\.csv$")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    return tmp_path


@pytest.fixture
def drop(root: Path):
    opened = FileDrop("test", root.as_uri())
    yield opened
    opened.close()


def test_only_files_matching_the_pattern_with_their_marker_are_ready(root: Path, drop: FileDrop):
    for name in ("TASK_20250408_002.csv", "TASK_20250408_001.csv", "notes.txt", "TASK_x.csv"):
        (root / "inbox" / name).write_bytes(b"x")
        (root / "inbox" / f"{name}.ok").write_bytes(b"")
    (root / "inbox" / "TASK_20250408_003.csv").write_bytes(b"still growing")
    assert drop.ready("inbox", TASK) == ["TASK_20250408_001.csv", "TASK_20250408_002.csv"]


def test_archive_moves_the_file_then_its_marker_into_the_day_folder(root: Path, drop: FileDrop):
    (root / "inbox" / "TASK_20250408_001.csv").write_bytes(b"data")
    (root / "inbox" / "TASK_20250408_001.csv.ok").write_bytes(b"")
    drop.archive("inbox", "TASK_20250408_001.csv", "20250408")
    assert sorted(p.name for p in (root / "archive" / "20250408").iterdir()) == [
        "TASK_20250408_001.csv",
        "TASK_20250408_001.csv.ok",
    ]
    assert list((root / "inbox").iterdir()) == []


def test_refuse_moves_the_file_to_error_with_a_one_line_reason(root: Path, drop: FileDrop):
    for _ in range(2):  # the same name refused twice keeps both
        (root / "inbox" / "TASK_20250408_001.csv").write_bytes(b"data")
        (root / "inbox" / "TASK_20250408_001.csv.ok").write_bytes(b"")
        drop.refuse("inbox", "TASK_20250408_001.csv", "md5 mismatch:\n marker abc")
    names = sorted(p.name for p in (root / "error").iterdir())
    assert names == [
        "TASK_20250408_001.csv",
        "TASK_20250408_001.csv.1",
        "TASK_20250408_001.csv.1.err",
        "TASK_20250408_001.csv.1.ok",
        "TASK_20250408_001.csv.err",
        "TASK_20250408_001.csv.ok",
    ]
    assert (
        root / "error" / "TASK_20250408_001.csv.err"
    ).read_bytes() == b"md5 mismatch: marker abc\n"


def test_deliver_writes_the_file_then_its_marker_and_leaves_no_temporary(
    root: Path, drop: FileDrop
):
    marker = Marker.for_file("RESULT_T-1.xml", 2, b"<x/>")
    drop.deliver("outbox", "RESULT_T-1.xml", b"<x/>", marker)
    assert sorted(p.name for p in (root / "outbox").iterdir()) == [
        "RESULT_T-1.xml",
        "RESULT_T-1.xml.ok",
    ]
    assert (root / "outbox" / "RESULT_T-1.xml.ok").read_bytes() == (
        f"RESULT_T-1.xml|2|{md5_hex(b'<x/>')}\r\n".encode()
    )


def test_a_file_not_yet_collected_is_never_overwritten(root: Path, drop: FileDrop):
    drop.deliver(
        "outbox", "RESULT_T-1.xml", b"first", Marker.for_file("RESULT_T-1.xml", 1, b"first")
    )
    with pytest.raises(TransientError) as caught:
        drop.deliver(
            "outbox", "RESULT_T-1.xml", b"second", Marker.for_file("RESULT_T-1.xml", 1, b"second")
        )
    assert caught.value.code == "NOT_COLLECTED"
    assert (root / "outbox" / "RESULT_T-1.xml").read_bytes() == b"first"


def test_an_unreachable_drop_is_a_transient_error(tmp_path: Path):
    gone = FileDrop("test", (tmp_path / "missing").as_uri())
    with pytest.raises(TransientError) as caught:
        gone.names("inbox")
    assert caught.value.code == "DROP_IO"


def test_a_file_over_the_size_limit_is_refused_unread(root: Path):
    small = FileDrop("test", root.as_uri(), max_file_bytes=10)
    (root / "inbox" / "TASK_20250408_001.csv").write_bytes(b"x" * 11)
    with pytest.raises(MessageRejected) as caught:
        small.read("inbox", "TASK_20250408_001.csv")
    assert caught.value.rule == "too_large"


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "a/b.csv", ".hidden", ""], ids=["parent", "folder", "dot", "empty"]
)
def test_a_name_that_is_not_a_plain_file_name_is_refused(drop: FileDrop, name: str):
    with pytest.raises(ValueError, match="plain file name"):
        drop.path("inbox", name)


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (b"TASK_1.csv|2\r\n", "bad_marker"),
        (b"TASK_1.csv|two|" + b"0" * 32 + b"\r\n", "bad_marker"),
        ("TASK_1.csv|2|中".encode(), "bad_marker"),
    ],
    ids=["two fields", "count not a number", "not ascii"],
)
def test_a_malformed_marker_is_refused(raw: bytes, rule: str):
    with pytest.raises(MessageRejected) as caught:
        Marker.parse(raw)
    assert caught.value.rule == rule


def test_a_marker_checks_name_md5_and_count_in_that_order():
    data = b"abc"
    marker = Marker.parse(f"F.csv|2|{md5_hex(data)}\r\n".encode())
    marker.check("F.csv", data, 2)
    for name, body, count, rule in (
        ("G.csv", data, 2, "marker_name"),
        ("F.csv", b"abd", 2, "md5_mismatch"),
        ("F.csv", data, 3, "count_mismatch"),
    ):
        with pytest.raises(MessageRejected) as caught:
            marker.check(name, body, count)
        assert caught.value.rule == rule


def test_a_zero_byte_marker_checks_nothing():
    marker = Marker.parse(b"")
    marker.check("F.csv", b"anything", 99)
    assert marker.render() == b""


def test_the_pinned_host_key_policy_refuses_another_key():
    generated = paramiko.RSAKey.generate(1024)
    PinnedHostKey(generated.fingerprint).missing_host_key(None, "h", generated)
    other = paramiko.RSAKey.generate(1024)
    with pytest.raises(paramiko.SSHException, match="not the pinned key"):
        PinnedHostKey(generated.fingerprint).missing_host_key(None, "h", other)


def test_an_sftp_drop_without_a_pinned_host_key_is_a_config_error():
    with pytest.raises(ValueError, match="host_key_sha256"):
        FileDrop("test", "sftp://fjzf_esb@127.0.0.1:2222/fjzf")
    with pytest.raises(ValueError, match="scheme"):
        FileDropConfig(url="ftp://host/x")


class _Session:
    """A stand-in SFTP filesystem: lists nothing; ``client.close`` ends the session."""

    def __init__(self, opened: list[_Session]) -> None:
        self.client, self.closed = self, False
        opened.append(self)

    def ls(self, path: str, detail: bool = True) -> list[dict[str, str]]:
        return []

    def close(self) -> None:
        self.closed = True


def test_drops_of_one_sftp_user_share_its_session_cap(monkeypatch: pytest.MonkeyPatch):
    opened: list[_Session] = []
    monkeypatch.setattr(FileDrop, "_open", lambda self: _Session(opened))
    url = "sftp://capped_user@127.0.0.1:2222/fjzf"

    def drop(max_sessions: int | None = 2) -> FileDrop:
        return FileDrop(
            "market_platform",
            url,
            host_key_sha256="SHA256:x",
            connect_timeout_s=0.1,
            max_sessions=max_sessions,
        )

    poller, results, third = drop(), drop(), drop()
    poller.names("inbox")
    results.names("outbox")
    with pytest.raises(TransientError) as caught:
        third.names("inbox")  # a third session at once would be refused by the server
    assert caught.value.code == "DROP_BUSY"
    assert len(opened) == 2
    poller.close()  # the poller's cycle ends: its session and its slot are given back
    third.names("inbox")
    assert (len(opened), opened[0].closed) == (3, True)
    results.close()
    third.close()
    uncapped = [drop(None) for _ in range(3)]
    for one in uncapped:
        one.names("inbox")
        one.close()


def test_the_market_platform_config_caps_its_sftp_user_at_two_sessions():
    settings = MarketPlatformConfig(url="file:///tmp/drop")
    assert settings.max_sessions == 2
    assert FileDropConfig(url="file:///tmp/drop").max_sessions is None
