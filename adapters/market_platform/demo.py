"""market_platform in ``make demo``: the 双随机 platform dropping task files, some of them bad.

The script, on the simulator (``MarketPlatformSimulator``, a real drop directory on disk that
the bus reads through ``file://``), polled every ``POLL_INTERVAL_S`` seconds:

- at 0 s a task file of ``FIRST_ROWS`` good rows;
- at 2 s a file of ``MIXED_ROWS`` rows, two of them bad as county clients type them: a USCC with
  a wrong check character (``uscc_check``) and a second officer without a 执法证号
  (``required``, 行政处罚法 Art. 42): those two rows are dead-lettered, the rest mapped;
- at 3 s the platform starts writing a file and finishes it (and its marker) at 6 s: the bus
  must not open it before the marker is there;
- at 4 s a file whose marker's MD5 does not match (a transfer cut short): moved to ``error/``,
  dead-lettered once (``md5_mismatch``), none of its rows mapped;
- at 5 s a file with a zero-byte marker, as platform versions before 2024-07 write (accepted);
- at 8 s, after a fail-over, the first file dropped again under the same name: refused as a
  ``duplicate file name`` (``duplicate_file``).

Result files go the other way only when inspection results of the platform's tasks reach the
bus (``routes/market_platform-results.yaml``), which no demo system produces.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.market_platform.simulator import MarketPlatformSimulator, task_row
from runner.adapter_api import DemoSystem, SystemCounts

__all__ = ["DEMO", "FIRST_ROWS", "MIXED_ROWS", "POLL_INTERVAL_S", "MarketPlatformDemo"]

POLL_INTERVAL_S = 1
FIRST_ROWS = 12
MIXED_ROWS = 8
GROWING_ROWS = 6
OLD_MARKER_ROWS = 4
SETTLE_S = 3.0
_LAST_EVENT_S = 8.0


class MarketPlatformDemo:
    """The simulated platform and its script (a ``runner.demo.DemoPeer``)."""

    def __init__(self) -> None:
        self.platform = MarketPlatformSimulator()
        self.day = self.platform.today()
        self._done: set[str] = set()
        self._first = ""
        self._growing = ""
        self._elapsed = 0.0

    @property
    def settings(self) -> Mapping[str, object]:
        """The drop's URL and a short poll interval."""
        return {"url": self.platform.url, "poll_interval_s": POLL_INTERVAL_S}

    @property
    def expected_dead_letters(self) -> Mapping[str, int]:
        """Two bad rows, one file with a wrong MD5, one duplicate file name."""
        return {"uscc_check": 1, "required": 1, "md5_mismatch": 1, "duplicate_file": 1}

    def intro(self) -> list[str]:
        """What the platform will drop."""
        return [
            f"SFTP-style drop polled every {POLL_INTERVAL_S} s: 5 GB18030 task files "
            "(2 bad rows, 1 file with a wrong MD5, 1 still being written, 1 old zero-byte "
            "marker), then a file dropped again under a name already processed"
        ]

    def _rows(self, first: int, count: int) -> list[dict[str, str]]:
        return [task_row(first + i, day=self.day, agency=first + i) for i in range(count)]

    def _once(self, key: str, at: float, elapsed_s: float) -> bool:
        if key in self._done or elapsed_s < at:
            return False
        self._done.add(key)
        return True

    def tick(self, elapsed_s: float) -> list[str]:
        """Drop what is due; lines to narrate."""
        self._elapsed = elapsed_s
        notes: list[str] = []
        drop = self.platform
        if self._once("first", 0.0, elapsed_s):
            self._first = drop.drop_task(self._rows(1, FIRST_ROWS), day=self.day)
            notes.append(f"market_platform: {self._first} dropped ({FIRST_ROWS} tasks)")
        if self._once("mixed", 2.0, elapsed_s):
            rows = self._rows(101, MIXED_ROWS)
            bad_uscc = rows[2]["统一社会信用代码"]
            rows[2]["统一社会信用代码"] = bad_uscc[:-1] + ("0" if bad_uscc[-1] != "0" else "1")
            rows[5]["执法人员2执法证号"] = ""
            name = drop.drop_task(rows, day=self.day)
            notes.append(
                f"market_platform: {name} dropped with a mistyped USCC and a row "
                "missing the second officer's certificate"
            )
        if self._once("grow", 3.0, elapsed_s):
            self._growing = drop.grow(self._rows(201, GROWING_ROWS), day=self.day)
            notes.append(f"market_platform: {self._growing} being written (no marker yet)")
        if self._once("finish", 6.0, elapsed_s):
            drop.finish(self._growing)
            notes.append(f"market_platform: {self._growing} finished, marker written")
        if self._once("md5", 4.0, elapsed_s):
            name = drop.drop_task(self._rows(301, 5), day=self.day, marker="bad_md5")
            notes.append(f"market_platform: {name} dropped with a marker whose MD5 is wrong")
        if self._once("old", 5.0, elapsed_s):
            name = drop.drop_task(self._rows(401, OLD_MARKER_ROWS), day=self.day, marker="empty")
            notes.append(f"market_platform: {name} dropped with a zero-byte marker (old version)")
        if self._once("again", _LAST_EVENT_S, elapsed_s):
            drop.redrop(self._first)
            notes.append(f"market_platform: fail-over: {self._first} dropped again, same name")
        return notes

    def finished(self) -> bool:
        """Everything dropped, and the bus has emptied ``inbox/`` since."""
        return self._elapsed >= _LAST_EVENT_S + SETTLE_S and not self.platform.files("inbox")

    def check(self, counts: SystemCounts) -> list[str]:
        """Every good row became one canonical message; the drop's folders are as expected."""
        problems = []
        expected = FIRST_ROWS + MIXED_ROWS - 2 + GROWING_ROWS + OLD_MARKER_ROWS
        if counts.mapped != expected:
            problems.append(f"market_platform: {counts.mapped} tasks mapped, expected {expected}")
        archived = len(self.platform.files(f"archive/{self.day}"))
        if archived != 8:
            problems.append(f"market_platform: {archived} files archived, expected 4 and markers")
        errors = [n for n in self.platform.files("error") if n.endswith(".err")]
        if len(errors) != 2:
            problems.append(f"market_platform: {len(errors)} files in error/, expected 2")
        return problems

    def stop(self) -> None:
        """Stop the simulator and remove its drop directory."""
        self.platform.stop()


DEMO = DemoSystem(system="market_platform", start=MarketPlatformDemo)
