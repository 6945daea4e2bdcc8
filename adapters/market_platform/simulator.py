"""The 双随机 platform's side of the drop, on a real local directory (tests and ``make demo``).

What the platform does (README §2–§4), and the faults it can play:

- drops task files into ``inbox/``: GB18030 CSV, then the ``.ok`` marker (``drop_task``); with a
  zero-byte marker (Q6), a wrong MD5, a wrong row count or a wrong name in the marker; a file
  under a name it dropped before (``redrop``, Q9); a file still growing without its marker
  (``grow`` … ``finish``); raw bytes of any kind (``drop_raw``: UTF-8, hostile, huge);
- collects ``outbox/RESULT_<任务编号>.xml`` + ``.ok``: checks the marker (name, count, MD5) and
  validates the XML against ``result.xsd``, imports the records by ``RecordNo`` (a later one
  replaces an earlier one) and deletes both files; a file it cannot import goes to
  ``outbox/rejected/`` (``rejected`` lists why);
- faults: ``hold(seconds)`` leaves results uncollected for a while (the bus must wait, never
  overwrite); ``take_down()`` / ``bring_up()`` makes the whole drop unreachable (the drop
  directory is renamed away: every listing, read and write fails).

Example::

    with MarketPlatformSimulator() as platform:
        platform.drop_task([task_row(1)], marker="bad_md5")
        config = MarketPlatformConfig(url=platform.url)
        SPEC.poll(RecordingPollContext(..., now=now), config)
        platform.collect()
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from lxml import etree

from adapters.market_platform._results import NAMESPACE, XSD_FILE
from adapters.market_platform._tasks import COLUMNS
from schemas.identifiers import uscc_check_char

__all__ = ["AGENCIES", "MarketPlatformSimulator", "Received", "task_row", "valid_uscc"]

AGENCIES = (
    ("建瓯市市场监督管理局", "11350783MB1D30174D", "350783", "建瓯市"),
    ("仙游县市场监督管理局", "11350322MB1E66207A", "350322", "仙游县"),
    ("福鼎市市场监督管理局", "11350982MB1F04525Q", "350982", "福鼎市"),
)
"""Implementing agencies of the samples: name, USCC, division, place name."""
_ITEMS = (
    ("SC0201", "食品生产者生产条件检查"),
    ("SC0203", "食品生产过程控制检查"),
    ("SC0204", "食品标签标识检查"),
    ("SC0101", "企业公示信息检查"),
    ("SC0502", "工业产品生产许可证获证企业检查"),
)
_SURNAMES = "林陈黄张吴王郑刘李叶"
_TRADES = ("食品有限公司", "茶业有限公司", "竹木制品有限公司", "笋干加工坊", "家具有限公司")
_NS = {"r": NAMESPACE}


def valid_uscc(division: str, serial: int, kind: str = "91") -> str:
    """A USCC with a correct GB 32100 check character (``kind`` 91 企业, 92 个体工商户)."""
    body = f"{kind}{division}MA{serial:07d}"[:17]
    return body + uscc_check_char(body)


def task_row(seq: int, *, day: str = "20250408", agency: int = 0, **cells: str) -> dict[str, str]:
    """A realistic task row (cells by header name); ``cells`` override any of them."""
    name, uscc, division, place = AGENCIES[agency % len(AGENCIES)]
    individual = seq % 4 == 1
    items = [_ITEMS[(seq + i) % len(_ITEMS)] for i in range(1 + seq % 2)]
    row = {
        "检查记录编号": f"JCJL{division}{day[:4]}{seq:08d}",
        "任务编号": f"SSJ-{division}-{day[:4]}-{1 + seq % 3:04d}",
        "任务名称": f"{day[:4]}年{place}食品生产经营者双随机抽查",
        "抽查类型": "2",
        "检查对象名称": f"{place}{_SURNAMES[seq % 10]}氏{_TRADES[seq % len(_TRADES)]}",
        "统一社会信用代码": valid_uscc(division, seq, "92" if individual else "91"),
        "主体类型": "2" if individual else "1",
        "法定代表人(负责人)": f"{_SURNAMES[(seq + 3) % 10]}某生",
        "住所(经营场所)": f"{place}城关工业区{seq}号",
        "登记机关区划": division,
        "检查事项": "；".join(f"{code}:{text}" for code, text in items),
        "执法人员1姓名": "魏志斌",
        "执法人员1执法证号": f"{division[:4]}{20031 + agency:07d}",
        "执法人员2姓名": "范小燕",
        "执法人员2执法证号": f"{division[:4]}{21008 + agency:07d}",
        "计划检查日期": f"{day[:4]}-{day[4:6]}-{int(day[6:]) % 28 + 1:02d}",
        "实施机关": name,
        "实施机关统一社会信用代码": uscc,
        "实施机关区划代码": division,
        "实施机关条线": "市场监管",
        "联合检查部门": "/",
    }
    row.update(cells)
    return row


def csv_bytes(
    rows: Sequence[Mapping[str, str]],
    header: Sequence[str] = COLUMNS,
    encoding: str = "gb18030",
) -> bytes:
    """Rows as the platform exports them: RFC 4180, CRLF, header first, no BOM."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    return out.getvalue().encode(encoding)


@dataclass(frozen=True)
class Received:
    """One result record the platform imported."""

    file: str
    task_no: str
    record_no: str
    result_code: str
    case_code: str | None


class MarketPlatformSimulator:
    """The platform's side of one drop directory (created under a temporary folder)."""

    def __init__(self, root: Path | None = None) -> None:
        self._own = root is None
        self.root = Path(tempfile.mkdtemp(prefix="ebus-market-platform-")) if root is None else root
        for folder in ("inbox", "outbox"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.records: dict[str, Received] = {}
        self.collected: list[str] = []
        self.rejected: list[tuple[str, str]] = []
        self.dropped: dict[str, bytes] = {}
        self._seq: dict[str, int] = {}
        self._held_until = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._schema = etree.XMLSchema(etree.parse(str(XSD_FILE)))

    @property
    def url(self) -> str:
        """The drop's URL for the adapter's config (``file:///…``)."""
        return self.root.as_uri()

    @property
    def inbox(self) -> Path:
        """The folder task files are dropped in."""
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        """The folder the bus drops results in."""
        return self.root / "outbox"

    def folder(self, name: str) -> Path:
        """A folder of the drop (``archive/20250408``, ``error``)."""
        return self.root / name

    # --- task files ---------------------------------------------------------------------------

    def next_name(self, day: str = "20250408") -> str:
        """The next ``TASK_<day>_<seq>.csv`` of ``day``."""
        with self._lock:
            self._seq[day] = self._seq.get(day, 0) + 1
            return f"TASK_{day}_{self._seq[day]:03d}.csv"

    def drop_raw(self, name: str, data: bytes, marker: bytes | None) -> str:
        """Write ``data`` as ``inbox/<name>``, then its marker (None: no marker yet)."""
        (self.inbox / name).write_bytes(data)
        self.dropped[name] = data
        if marker is not None:
            (self.inbox / f"{name}.ok").write_bytes(marker)
        return name

    def drop_task(
        self,
        rows: Sequence[Mapping[str, str]],
        *,
        name: str | None = None,
        day: str = "20250408",
        marker: str = "good",
        header: Sequence[str] = COLUMNS,
    ) -> str:
        """Drop a task file of ``rows``; ``marker`` is ``good``, ``empty`` (Q6), ``bad_md5``,
        ``bad_count``, ``bad_name`` or ``none`` (the file is still being written)."""
        name = name or self.next_name(day)
        data = csv_bytes(rows, header)
        return self.drop_raw(name, data, self._marker(name, data, len(rows), marker))

    @staticmethod
    def _marker(name: str, data: bytes, count: int, kind: str) -> bytes | None:
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        lines = {
            "good": f"{name}|{count}|{digest}\r\n",
            "empty": "",
            "bad_md5": f"{name}|{count}|{'0' * 32}\r\n",
            "bad_count": f"{name}|{count + 1}|{digest}\r\n",
            "bad_name": f"TASK_19990101_001.csv|{count}|{digest}\r\n",
        }
        if kind == "none":
            return None
        return lines[kind].encode("ascii")

    def redrop(self, name: str) -> str:
        """Drop a file again under a name dropped before (after a fail-over, Q9)."""
        data = self.dropped[name]
        rows = len(data.decode("gb18030").split("\r\n")) - 2
        return self.drop_raw(name, data, self._marker(name, data, rows, "good"))

    def grow(self, rows: Sequence[Mapping[str, str]], *, day: str = "20250408") -> str:
        """Start writing a task file: only its first half, no marker."""
        name = self.next_name(day)
        data = csv_bytes(rows)
        (self.inbox / name).write_bytes(data[: len(data) // 2])
        self.dropped[name] = data
        return name

    def finish(self, name: str) -> None:
        """Finish a file started with ``grow``: the rest of its bytes, then its marker."""
        data = self.dropped[name]
        (self.inbox / name).write_bytes(data)
        rows = len(data.decode("gb18030").split("\r\n")) - 2
        (self.inbox / f"{name}.ok").write_bytes(self._marker(name, data, rows, "good") or b"")

    # --- result files -------------------------------------------------------------------------

    def hold(self, seconds: float) -> None:
        """Leave results in ``outbox/`` uncollected for ``seconds`` (slow collection)."""
        self._held_until = time.monotonic() + seconds

    def collect(self) -> list[str]:
        """Collect every result file whose marker is there; returns the names collected."""
        if time.monotonic() < self._held_until or not self.outbox.is_dir():
            return []
        done = []
        for marker in sorted(self.outbox.glob("RESULT_*.xml.ok")):
            name = marker.name[: -len(".ok")]
            path = self.outbox / name
            if not path.exists():
                continue
            problem = self._import(name, path.read_bytes(), marker.read_bytes())
            if problem is not None:
                self.rejected.append((name, problem))
                rejected = self.outbox / "rejected"
                rejected.mkdir(exist_ok=True)
                shutil.move(str(path), str(rejected / name))
                shutil.move(str(marker), str(rejected / marker.name))
            else:
                path.unlink()
                marker.unlink()
            done.append(name)
            self.collected.append(name)
        return done

    def _import(self, name: str, data: bytes, marker: bytes) -> str | None:
        """Import one result file; the reason it cannot be imported, or None."""
        try:
            root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            return f"not XML: {exc.msg}"
        if not self._schema.validate(root):
            return f"result.xsd: {cast(Any, self._schema.error_log)[0].message}"
        records = root.findall("r:Record", _NS)
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if marker != f"{name}|{len(records)}|{digest}\r\n".encode("ascii"):
            return "marker does not match the file"
        task_no = str(root.get("taskNo"))
        if name != f"RESULT_{task_no}.xml" or root.get("recordCount") != str(len(records)):
            return "file name or recordCount does not match the content"
        if [r.findtext("r:RecordNo", namespaces=_NS) for r in records] != sorted(
            r.findtext("r:RecordNo", namespaces=_NS) or "" for r in records
        ):
            return "records are not sorted by RecordNo"
        for record in records:
            number = str(record.findtext("r:RecordNo", namespaces=_NS))
            self.records[number] = Received(
                name,
                task_no,
                number,
                str(record.findtext("r:ResultCode", namespaces=_NS)),
                record.findtext("r:CaseCode", namespaces=_NS),
            )
        return None

    # --- faults and running -------------------------------------------------------------------

    def take_down(self) -> None:
        """Make the drop unreachable (its directory is moved away)."""
        self.root.rename(self.root.with_name(self.root.name + ".down"))

    def bring_up(self) -> None:
        """Make the drop reachable again."""
        self.root.with_name(self.root.name + ".down").rename(self.root)

    def start(self, collect_every_s: float = 1.0) -> MarketPlatformSimulator:
        """Collect results in the background every ``collect_every_s`` seconds."""
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(collect_every_s):
                try:
                    self.collect()
                except OSError:  # the drop is down (take_down): try again next time
                    continue

        self._thread = threading.Thread(target=run, name="market_platform collector", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop collecting; remove the drop directory if this simulator created it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)
            shutil.rmtree(self.root.with_name(self.root.name + ".down"), ignore_errors=True)

    def __enter__(self) -> MarketPlatformSimulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def files(self, folder: str) -> list[str]:
        """The file names in a folder of the drop, sorted (empty if it does not exist)."""
        path = self.root / folder
        return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []

    @staticmethod
    def today() -> str:
        """Today's date as ``yyyyMMdd`` (Beijing time)."""
        return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y%m%d")
