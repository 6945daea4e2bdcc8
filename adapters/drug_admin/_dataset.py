"""The records the drug_admin simulator serves: the spec's samples, plus generated ones.

A record is a ``dict`` of wire element → value in wire order: text, a nested ``dict``
(``Enterprise``, ``Org``) or a list (``Inspectors``, ``Items``, ``IllegalBasis`` of dicts;
``PenaltyKinds`` of codes). A missing key is an omitted element, ``""`` an empty one, ``None``
``xsi:nil`` in a typed record and the text ``null`` inside ``ResultXml``. Generated records use
checksum-valid USCCs and resident ID numbers and real Fujian division codes.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from pathlib import Path
from typing import Any

import yaml

from schemas.identifiers import USCC_ALPHABET, resident_id_check_char, uscc_check_char

__all__ = [
    "AGENCIES",
    "Record",
    "generate_inspections",
    "generate_penalties",
    "make_uscc",
    "sample_inspections",
    "sample_penalties",
]

Record = dict[str, Any]
_SAMPLES = Path(__file__).with_name("sample_records.yaml")

AGENCIES = (
    ("福建省药品监督管理局", "11350000MB1G880027", "350000"),
    ("厦门市市场监督管理局", "11350200MB1C2569X2", "350200"),
    ("泉州市市场监督管理局", "11350500MB0P661250", "350500"),
)
"""Inspecting and penalising agencies (the samples' own)."""
_COUNTIES = (
    ("350102", "福州市鼓楼区"), ("350121", "福州市闽侯县"), ("350203", "厦门市思明区"),
    ("350206", "厦门市湖里区"), ("350212", "厦门市同安区"), ("350503", "泉州市丰泽区"),
    ("350582", "泉州市晋江市"), ("350782", "南平市武夷山市"), ("350405", "三明市沙县区"),
)  # fmt: skip
_TRADES = ("医药连锁有限公司", "大药房", "医疗器械有限公司", "化妆品有限公司", "制药有限公司")
_SURNAMES = "陈林黄张吴郑王刘李蔡"
_GIVEN = "建国丽华志明文涛美玲国强秀英海峰"
_ITEMS = (
    ("YPGSP-0401", "冷链药品储存温度监测"), ("YPGSP-0505", "药品验收"),
    ("YPGSP-0603", "处方药销售管理"), ("YLQX-JY-07", "贮存与温湿度监测"),
    ("HZP-JY-02", "进货查验记录"), ("YPGMP-06", "物料与产品"),
)  # fmt: skip
_ACTS = (
    ("未凭处方销售处方药", "药品经营质量管理规范", "第一百七十条",
     "《药品流通监督管理办法》第三十八条"),
    ("经营不符合规定条件储存的医疗器械", "医疗器械监督管理条例", "第五十五条",
     "《医疗器械监督管理条例》第八十六条第（三）项"),
    ("未依照规定建立并执行进货查验记录制度", "化妆品监督管理条例", "第三十八条第一款",
     "《化妆品监督管理条例》第六十二条第一款第（二）项"),
)  # fmt: skip


def _load() -> dict[str, list[Record]]:
    return yaml.safe_load(_SAMPLES.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def sample_inspections() -> list[Record]:
    """The inspection records of the samples (query_inspections-1..3), fresh copies."""
    return copy.deepcopy(_load()["inspections"])


def sample_penalties() -> list[Record]:
    """The penalty records of the samples (query_penalties-1..2), fresh copies."""
    return copy.deepcopy(_load()["penalties"])


def make_uscc(rng: random.Random, division: str, prefix: str = "91") -> str:
    """A checksum-valid USCC of a company registered in ``division``."""
    body = prefix + division + "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(7))
    return body + uscc_check_char(body)


def _resident_id(rng: random.Random, division: str) -> str:
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(15000))
    body = f"{division}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + resident_id_check_char(body)


def _person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(2))


def _times(rng: random.Random, count: int, since: dt.datetime, until: dt.datetime) -> list[str]:
    span = max(int((until - since).total_seconds()), 1)
    moments = sorted(since + dt.timedelta(seconds=rng.randrange(span)) for _ in range(count))
    return [moment.isoformat() for moment in moments]


def generate_inspections(
    count: int, *, since: dt.datetime, until: dt.datetime, seed: int = 1, start: int = 5000
) -> list[Record]:
    """``count`` inspection records updated between ``since`` and ``until`` (naive Beijing)."""
    rng = random.Random(seed)
    records: list[Record] = []
    for number, stamp in enumerate(_times(rng, count, since, until), start=start):
        division, place = rng.choice(_COUNTIES)
        org_name, org_uscc, org_division = rng.choice(AGENCIES)
        conclusion = rng.choice("11122349")
        items = rng.sample(_ITEMS, rng.randrange(0, 4))
        record: Record = {
            "RecordId": f"JCJL-2024-{number:06d}",
            "Version": "1",
            "UpdateTime": stamp,
            "InspectionNo": f"闽药检〔2024〕{number:04d}号",
            "InspectionMode": rng.choice("123456"),
            "InspectionCategory": rng.choice(("YP-JY", "YLQX-JY", "HZP-JY", "YP-SC")),
            "Enterprise": {
                "EntName": f"{place}{rng.choice(_TRADES)}",
                "EntCreditCode": make_uscc(rng, division),
                "EntType": rng.choice("1123"),
                "LegalRep": _person(rng),
                "EntAddress": f"福建省{place}工业路{rng.randrange(1, 200)}号",
                "EntDivisionCode": division,
            },
            "Org": {
                "OrgName": org_name,
                "OrgCreditCode": org_uscc,
                "OrgDivisionCode": org_division,
            },
            "Inspectors": [
                {"Name": _person(rng), "CertNo": f"{org_division}{rng.randrange(10**5):05d}"}
                for _ in range(2)
            ],
            "InspectTime": stamp[:10] + "T09:30:00",
            "Items": [{"Code": code, "Name": name} for code, name in items],
            "Conclusion": conclusion,
        }
        if conclusion != "1":
            record["DefectSummary"] = "现场检查发现部分记录不完整，已责令限期整改。"
        if conclusion == "3":
            record["CaseNo"] = f"YPAJ-{org_division}-2024-{number:06d}"
            record["CaseRegisterDate"] = stamp[:10]
        records.append(record)
    return records


def generate_penalties(
    count: int, *, since: dt.datetime, until: dt.datetime, seed: int = 2, start: int = 5000
) -> list[Record]:
    """``count`` penalty records (about one in four on a natural person) updated in the span."""
    rng = random.Random(seed)
    records: list[Record] = []
    for number, stamp in enumerate(_times(rng, count, since, until), start=start):
        division, place = rng.choice(_COUNTIES)
        org_name, org_uscc, org_division = rng.choice(AGENCIES)
        act, law, article, basis = rng.choice(_ACTS)
        natural = rng.random() < 0.25
        decided = dt.date.fromisoformat(stamp[:10])
        day = f"{decided:%Y%m%d}"
        record: Record = {
            "RecordId": f"CFJD-2024-{number:06d}",
            "Version": "1",
            "UpdateTime": stamp.replace("T", " "),
            "CaseNo": f"YPAJ-{org_division}-2024-{number:06d}",
            "RegisterDate": "20240110",
            "DecisionNo": f"闽药罚〔2024〕{number}号",
            "ProductCategory": rng.choice("123"),
            "PartyType": "4" if natural else rng.choice("123"),
            "PartyName": _person(rng) if natural else f"{place}{rng.choice(_TRADES)}",
        }
        if natural:
            record |= {"IdType": "01", "IdNo": _resident_id(rng, division)}
        else:
            record |= {"CreditCode": make_uscc(rng, division), "LegalRep": _person(rng)}
        fine = rng.randrange(1, 300) * 100_00
        record |= {
            "Address": f"福建省{place}人民路{rng.randrange(1, 300)}号",
            "DivisionCode": division,
            "IllegalAct": act,
            "Facts": f"经查，当事人{act}，违法事实清楚。",
            "IllegalBasis": [{"Law": law, "Article": article}],
            "PenaltyBasis": basis,
            "PenaltyKinds": ["01", "03"],
            "FineFen": str(fine),
            "ConfiscatedFen": "0",
            "LicenseAffected": "",
            "DecisionDate": day,
            "OrgName": org_name,
            "OrgCreditCode": org_uscc,
            "OrgDivisionCode": org_division,
            "PublicityEndDate": f"{decided + dt.timedelta(days=365):%Y%m%d}",
        }
        records.append(record)
    return records
