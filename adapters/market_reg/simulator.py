"""The 案件办理系统's export job on a real local drop directory (tests and ``make demo``).

What the exporter does (README §2, layout.md §2–§4), and the faults it can play:

- ``export_night``: writes ``cases_<day>.jsonl`` and ``decisions_<day>.jsonl`` (UTF-8 BOM, one
  JSON record per line, LF or CRLF) as ``<name>.part`` then renamed, then the signed manifest
  (also ``.part`` then renamed), last;
- records from ``case_record`` / ``decision_record`` (valid USCCs and ID numbers), or raw bytes
  for a line (malformed JSON, hostile or huge lines); a record written twice on consecutive
  lines (the join duplication, §2.3); a trailing blank line; upper-case keys (2018 records);
- faults: ``bad_sign``, ``sha256``, ``size``, ``lines``, ``no_bom`` (the decisions file),
  ``missing`` (the decisions file never uploaded), ``manifest_not_json``, ``no_manifest`` (the
  manifest comes later: ``publish_manifest``), a re-export with ``batch`` + 1 (``reexport``);
- ``take_down()`` / ``bring_up()``: the whole drop unreachable (its directory moved away);
- ``report(day)``: the bus's import report from ``outbox/market_reg/``.

Example::

    with MarketRegSimulator() as exporter:
        exporter.export_night("20240305", [case_record(1)], [decision_record(1)])
        config = MarketRegConfig(url=exporter.url, export_secret=DEMO_SECRET)
        nightly_import(RecordingPollContext(..., now=now), config, dt.date(2024, 3, 5))
        exporter.report("20240305")["files"][0]["status"]    # "imported"
"""

from __future__ import annotations

import codecs
import hashlib
import hmac
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.market_reg._manifest import count_lines
from schemas.identifiers import resident_id_check_char, uscc_check_char

__all__ = [
    "AGENCIES",
    "MarketRegSimulator",
    "case_record",
    "decision_record",
    "resident_id",
    "valid_uscc",
]

AGENCIES = (
    ("漳州市芗城区市场监督管理局", "11350602MB1J55289L", "350602", "芗"),
    ("厦门市思明区市场监督管理局", "11350203MB1C14587K", "350203", "思"),
    ("福州市鼓楼区市场监督管理局", "11350102MB1K77315D", "350102", "鼓"),
)
"""Agencies of the samples: name, USCC, division, the short name of their 文号."""
_SHOPS = ("生鲜超市有限公司", "鞋服商行", "美妆科技有限公司", "小吃店", "五金建材经营部")
_SURNAMES = "林陈黄张吴王郑刘李叶"
Record = dict[str, Any] | bytes


def valid_uscc(division: str, serial: int, kind: str = "91") -> str:
    """A USCC with a correct GB 32100 check character (``kind`` 91 企业, 92 个体工商户)."""
    body = f"{kind}{division}MA{serial:07d}"[:17]
    return body + uscc_check_char(body)


def resident_id(division: str, serial: int) -> str:
    """An 18-digit resident ID number with a correct GB 11643 check character."""
    body = f"{division}1980{1 + serial % 12:02d}{1 + serial % 28:02d}{serial % 1000:03d}"
    return body + resident_id_check_char(body)


def _party(division: str, seq: int, person: bool) -> dict[str, Any]:
    if person:
        return {
            "dsrlx": "04",
            "dsrmc": f"{_SURNAMES[seq % 10]}某{'一二三四五六七八九十'[seq % 10]}",
            "tyshxydm": "null",
            "fddbr": "null",
            "zjlx": "身份证",
            "zjhm": resident_id(division, seq),
            "dz": f"福建省某市某区某路{seq}号",
            "xzqh": division,
        }
    individual = seq % 3 == 1
    return {
        "dsrlx": "03" if individual else "01",
        "dsrmc": f"某某{_SHOPS[seq % len(_SHOPS)]}{seq}",
        "tyshxydm": valid_uscc(division, seq, "92" if individual else "91"),
        "fddbr": f"{_SURNAMES[(seq + 3) % 10]}某生",
        "zjlx": "null",
        "zjhm": "null",
        "dz": f"福建省某市某区某街{seq}号",
        "xzqh": division,
    }


def _ajbh(seq: int, agency: int) -> str:
    return f"SCAJ-{AGENCIES[agency % len(AGENCIES)][2]}-2024-{seq:06d}"


def case_record(
    seq: int, *, version: int = 1, person: bool = False, **fields: Any
) -> dict[str, Any]:
    """A realistic case record (README §3.1); ``fields`` override any key."""
    name, uscc, division, _ = AGENCIES[seq % len(AGENCIES)]
    ajbh = _ajbh(seq, seq)
    record = {
        "jlid": f"{ajbh}/AJ-{version:02d}",
        "ajbh": ajbh,
        "ajmc": f"销售不符合食品安全标准的食品案{seq}",
        "ajly": "1",
        "cxlx": "普通程序",
        "ajzt": "02",
        "lasj": "2024年3月1日",
        "jasj": "null",
        "dsr": _party(division, seq, person),
        "wfxw": "销售不符合食品安全标准的食品",
        "wfss": "经查，当事人销售的韭菜腐霉利项目不合格。",
        "wfyj": "《中华人民共和国食品安全法》第三十四条第（二）项",
        "sajje": f"{1000 + seq * 37:,}.00",
        "bajg": {"jgmc": name, "tyshxydm": uscc, "xzqh": division},
        "bary": [{"xm": "杨志七", "zfzh": "35060220041"}, {"xm": "曾志八", "zfzh": "35060220042"}],
        "gxsj": "2024-03-05 10:12:40",
    }
    record.update(fields)
    return record


def decision_record(seq: int, *, person: bool = False, **fields: Any) -> dict[str, Any]:
    """A realistic penalty decision record (README §3.2); ``fields`` override any key."""
    name, uscc, division, short = AGENCIES[seq % len(AGENCIES)]
    ajbh = _ajbh(seq, seq)
    record = {
        "jlid": f"{ajbh}/JDS-01",
        "ajbh": ajbh,
        "lasj": "2024年3月1日",
        "jdswh": f"{short}市监处罚〔2024〕{seq}号",
        "dsr": _party(division, seq, person),
        "wfxw": "销售不符合食品安全标准的食品",
        "wfss": "经查，当事人销售的韭菜腐霉利项目不合格。",
        "wfyj": "《中华人民共和国食品安全法》第三十四条第（二）项",
        "cfyj": "《中华人民共和国食品安全法》第一百二十四条第一款第（一）项",
        "cfzl": "没收违法所得;罚款",
        "cfje": f"{5000 + seq * 100:,}.00",
        "msje": "720.00",
        "zxzz": "null",
        "jdrq": "2024年3月5日",
        "gsjzrq": "2025年3月4日",
        "bajg": {"jgmc": name, "tyshxydm": uscc, "xzqh": division},
        "gxsj": "2024-03-05 16:55:09",
    }
    record.update(fields)
    return record


def jsonl_bytes(
    records: Sequence[Record], *, crlf: bool = False, blank_tail: bool = False, bom: bool = True
) -> bytes:
    """Records as the exporter writes them: BOM, one JSON object per line (UTF-8, not \\u
    escapes), every line terminated; ``bytes`` items are written as raw lines."""
    end = b"\r\n" if crlf else b"\n"
    lines = [
        r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode("utf-8")
        for r in records
    ]
    body = b"".join(line + end for line in lines) + (end if blank_tail else b"")
    return (codecs.BOM_UTF8 if bom else b"") + body


class MarketRegSimulator:
    """The exporter's side of the drop (created under a temporary folder)."""

    FAULTS = (
        "bad_sign",
        "sha256",
        "size",
        "lines",
        "no_bom",
        "missing",
        "manifest_not_json",
        "no_manifest",
    )

    def __init__(
        self, root: Path | None = None, secret: str = "scjg-ajbl-export-test-2024"
    ) -> None:
        self._own = root is None
        self.root = Path(tempfile.mkdtemp(prefix="ebus-market-reg-")) if root is None else root
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.outbox.mkdir(parents=True, exist_ok=True)
        self._secret = secret
        self.batches: dict[str, int] = {}
        self._pending: dict[str, bytes] = {}
        self.exported: dict[str, tuple[Sequence[Record], Sequence[Record]]] = {}

    @property
    def url(self) -> str:
        """The drop root's URL for the adapter's config (``file:///…``)."""
        return self.root.as_uri()

    @property
    def inbox(self) -> Path:
        """``inbox/market_reg/``: where the exporter uploads."""
        return self.root / "inbox" / "market_reg"

    @property
    def outbox(self) -> Path:
        """``outbox/market_reg/``: where the bus writes its import reports."""
        return self.root / "outbox" / "market_reg"

    def files(self, folder: str = "") -> list[str]:
        """File names in ``inbox/market_reg/<folder>``, sorted (empty when it does not exist)."""
        path = self.inbox / folder
        return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []

    def report(self, day: str) -> dict[str, Any] | None:
        """The bus's import report of ``day``, None when there is none yet."""
        path = self.outbox / f"report_{day}.json"
        return json.loads(path.read_bytes()) if path.exists() else None

    def _upload(self, name: str, data: bytes) -> None:
        part = self.inbox / f"{name}.part"
        part.write_bytes(data)
        part.rename(self.inbox / name)

    def manifest_bytes(
        self, day: str, files: dict[str, bytes], batch: int, *, fault: str | None = None
    ) -> bytes:
        """The signed manifest of ``files`` (layout.md §4), with a fault when asked."""
        entries = []
        for name, data in files.items():
            entry = {
                "file": name,
                "lines": count_lines(data),
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            if name.startswith("decisions") and fault in ("sha256", "size", "lines"):
                key = {"sha256": "sha256", "size": "size", "lines": "lines"}[fault]
                entry[key] = "0" * 64 if key == "sha256" else int(entry[key]) + 1  # type: ignore[call-overload]
            entries.append(entry)
        to_sign = "\n".join(
            [
                day,
                str(batch),
                *(f"{e['file']}:{e['lines']}:{e['size']}:{e['sha256']}" for e in entries),
            ]
        )
        sign = hmac.new(self._secret.encode(), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if fault == "bad_sign":
            sign = sign[::-1]
        manifest = {
            "export_date": day,
            "system": "FJSCJG-AJBL",
            "generated_at": f"{day[:4]}-{day[4:6]}-{day[6:]} 01:42:17",
            "batch": batch,
            "files": entries,
            "sign": sign,
        }
        if fault == "manifest_not_json":
            return b'{"export_date": "' + day.encode() + b'", truncated'
        return json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"

    def export_night(
        self,
        day: str,
        cases: Sequence[Record],
        decisions: Sequence[Record],
        *,
        batch: int | None = None,
        crlf: bool = False,
        blank_tail: bool = False,
        fault: str | None = None,
    ) -> dict[str, bytes]:
        """Export one night: both data files, then the signed manifest (unless ``fault`` is
        ``no_manifest``: ``publish_manifest`` uploads it later). Returns the files written."""
        if fault is not None and fault not in self.FAULTS:
            raise ValueError(f"unknown fault {fault}; known: {', '.join(self.FAULTS)}")
        batch = batch if batch is not None else self.batches.get(day, 0) + 1
        self.batches[day] = batch
        self.exported[day] = (cases, decisions)
        files = {
            f"cases_{day}.jsonl": jsonl_bytes(cases, crlf=crlf, blank_tail=blank_tail),
            f"decisions_{day}.jsonl": jsonl_bytes(
                decisions, crlf=crlf, blank_tail=blank_tail, bom=fault != "no_bom"
            ),
        }
        manifest = self.manifest_bytes(day, files, batch, fault=fault)
        for name, data in files.items():
            if not (fault == "missing" and name.startswith("decisions")):
                self._upload(name, data)
        if fault == "no_manifest":
            self._pending[day] = manifest
        else:
            self._upload(f"manifest_{day}.json", manifest)
        return {**files, f"manifest_{day}.json": manifest}

    def publish_manifest(self, day: str) -> None:
        """Upload the manifest held back by ``fault="no_manifest"`` (the night completes)."""
        self._upload(f"manifest_{day}.json", self._pending.pop(day))

    def reexport(self, day: str, **options: Any) -> dict[str, bytes]:
        """Export ``day`` again with ``batch`` + 1 (after a refusal), same records."""
        cases, decisions = self.exported[day]
        return self.export_night(day, cases, decisions, **options)

    def start_upload(self, name: str, data: bytes) -> None:
        """An upload in progress: only ``<name>.part`` exists (the bus must ignore it)."""
        (self.inbox / f"{name}.part").write_bytes(data)

    def take_down(self) -> None:
        """Make the drop unreachable (its directory is moved away)."""
        self.root.rename(self.root.with_name(self.root.name + ".down"))

    def bring_up(self) -> None:
        """Make the drop reachable again."""
        self.root.with_name(self.root.name + ".down").rename(self.root)

    def stop(self) -> None:
        """Remove the drop directory if this simulator created it."""
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)
            shutil.rmtree(self.root.with_name(self.root.name + ".down"), ignore_errors=True)

    def __enter__(self) -> MarketRegSimulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
