"""The data the eco_env simulator serves: the spec's sample cases and decisions, plus realistic
generated ones for the demo (valid USCCs and resident ID numbers, real Fujian division codes).

A record is a ``dict`` of wire field → text in wire order; ``None`` is ``xsi:nil``, ``""`` an
empty element, a missing key an absent element (``LicenseName`` of older records). A decision
record holds only what the decision adds to its case (the server joins them).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.identifiers import USCC_ALPHABET, resident_id_check_char, uscc_check_char

__all__ = [
    "CASE_FIELDS",
    "DECISION_FIELDS",
    "FUJIAN_COUNTIES",
    "Dataset",
    "Record",
    "generate_dataset",
    "net_datetime",
    "parse_net_datetime",
    "sample_dataset",
]

Record = dict[str, str | None]

CASE_FIELDS = (
    "CaseId", "CaseNo", "CaseName", "CaseSource", "ViolationType", "Procedure", "Status",
    "PartyType", "PartyName", "CreditCode", "IdCardNo", "LegalPerson", "PartyAddress",
    "RegisterTime", "CloseTime", "Facts", "LegalBasis", "InvolvedAmount", "HasDecision",
    "IsMajor", "Officers", "OrgName", "OrgCreditCode", "OrgRegion", "UpdateTime",
)  # fmt: skip
DECISION_FIELDS = (
    "CaseId", "CaseNo", "RegisterTime", "DecisionNo", "PartyType", "PartyName", "CreditCode",
    "IdCardNo", "LegalPerson", "PartyAddress", "ViolationType", "Facts", "LegalBasis",
    "PenaltyBasis", "PenaltyTypes", "FineAmount", "ConfiscatedAmount", "IsLicenseAffected",
    "LicenseName", "DecisionTime", "OrgName", "OrgCreditCode", "OrgRegion", "PublicityEndDate",
    "UpdateTime",
)  # fmt: skip


def net_datetime(at: dt.datetime) -> str:
    """``at`` as .NET writes it (zh-CN, quirk Q2): ``2025/3/5 9:07:00``, no leading zeros."""
    return f"{at.year}/{at.month}/{at.day} {at.hour}:{at.minute:02d}:{at.second:02d}"


def parse_net_datetime(text: str) -> dt.datetime:
    """A naive Beijing time from ``yyyy/M/d H:mm:ss``."""
    return dt.datetime.strptime(text.strip(), "%Y/%m/%d %H:%M:%S")


@dataclass
class Dataset:
    """Cases by ``CaseId`` and the decision fields of the decided ones."""

    cases: dict[int, Record] = field(default_factory=dict)
    decisions: dict[int, Record] = field(default_factory=dict)

    def add(self, case: Record, decision: Record | None = None) -> None:
        """Add (or replace) a case and its decision."""
        case_id = int(str(case["CaseId"]))
        self.cases[case_id] = dict(case)
        if decision is not None:
            self.decisions[case_id] = dict(decision)

    def extend(self, other: Dataset) -> Dataset:
        """Add every case and decision of ``other``; returns self."""
        self.cases.update(other.cases)
        self.decisions.update(other.decisions)
        return self

    def decision_record(self, case_id: int) -> Record | None:
        """The whole ``<PenaltyDecision>`` of a case (joined with the case), or None."""
        case, extra = self.cases.get(case_id), self.decisions.get(case_id)
        if case is None or extra is None or case.get("HasDecision") != "是":
            return None
        joined: Record = {}
        for name in DECISION_FIELDS:
            if name in extra:
                joined[name] = extra[name]
            elif name in case:
                joined[name] = case[name]
        return joined


_SAMPLE_CASES: tuple[Record, ...] = (
    {
        "CaseId": "10231", "CaseNo": "HJZF-350521-2025-0012",
        "CaseName": "惠安县东园精细化工有限公司超过水污染物排放标准排放水污染物案",
        "CaseSource": "4", "ViolationType": "01", "Procedure": "2", "Status": "2",
        "PartyType": "1", "PartyName": "惠安县东园精细化工有限公司",
        "CreditCode": "91350521757310297J", "IdCardNo": None, "LegalPerson": "庄某明",
        "PartyAddress": "泉州市惠安县东园镇埭庄村", "RegisterTime": "2025/3/20 9:07:00",
        "CloseTime": "0001/1/1 0:00:00",
        "Facts": "2025年3月18日，执法人员对当事人废水总排口采样监测，化学需氧量浓度为186mg/L，"
        "总镍浓度为1.6mg/L，超过《污水综合排放标准》(GB 8978-1996)规定的排放限值。",
        "LegalBasis": "《中华人民共和国水污染防治法》第十条", "InvolvedAmount": "0",
        "HasDecision": "否", "IsMajor": "否", "Officers": "骆志强:35052118006;曾丽萍:35052120113",
        "OrgName": "泉州市惠安生态环境局", "OrgCreditCode": "11350521MB1G20956T",
        "OrgRegion": "350521", "UpdateTime": "2025/3/21 17:42:08",
    },
    {
        "CaseId": "10187", "CaseNo": "HJZF-350521-2025-0003",
        "CaseName": "惠安县崇武镇鑫磊石材有限公司未依法报批建设项目环境影响报告表擅自开工建设案",
        "CaseSource": "1", "ViolationType": "02", "Procedure": "2", "Status": "5",
        "PartyType": "1", "PartyName": "惠安县崇武镇鑫磊石材有限公司",
        "CreditCode": "91350521MA345T8L5P", "IdCardNo": None, "LegalPerson": "张某辉",
        "PartyAddress": "泉州市惠安县崇武镇大岞村工业路9号", "RegisterTime": "2025/1/14 14:30:00",
        "CloseTime": "0001/1/1 0:00:00",
        "Facts": "当事人石材加工生产线技改项目总投资380万元，未依法报批建设项目环境影响报告表，"
        "于2024年11月擅自开工建设，至检查时已建成切割、打磨生产线各1条。",
        "LegalBasis": "《中华人民共和国环境影响评价法》第二十五条", "InvolvedAmount": "380",
        "HasDecision": "是", "IsMajor": "否", "Officers": "骆志强:35052118006;黄伟东:35052119021",
        "OrgName": "泉州市惠安生态环境局", "OrgCreditCode": "11350521MB1G20956T",
        "OrgRegion": "350521", "UpdateTime": "2025/4/18 16:05:31",
    },
    {
        "CaseId": "20877", "CaseNo": "HJZF-350802-2025-0031",
        "CaseName": "吴某华非法倾倒危险废物案",
        "CaseSource": "3", "ViolationType": "06", "Procedure": "2", "Status": "8",
        "PartyType": "4", "PartyName": "吴某华", "CreditCode": None,
        "IdCardNo": "350802198507143215", "LegalPerson": None,
        "PartyAddress": "龙岩市新罗区西陂街道龙腾南路218号3幢602室",
        "RegisterTime": "2025/5/27 10:15:00", "CloseTime": "0001/1/1 0:00:00",
        "Facts": "经查，当事人于2025年5月间，将收集的废矿物油及含油废抹布（HW08、HW49）约3.6吨，"
        "运至新罗区雁石镇一处废弃采石场倾倒，造成土壤污染。",
        "LegalBasis": "《中华人民共和国固体废物污染环境防治法》第二十条；"
        "《中华人民共和国固体废物污染环境防治法》第七十九条",
        "InvolvedAmount": "12.6", "HasDecision": "否", "IsMajor": "是",
        "Officers": "邱建明:35080219011;蓝秀琴:35080221006", "OrgName": "龙岩市新罗生态环境局",
        "OrgCreditCode": "11350802MB1L22606C", "OrgRegion": "350802",
        "UpdateTime": "2025/6/3 16:40:55",
    },
    {  # the case behind get_penalty_decision_response-2 (no case-list sample of its own)
        "CaseId": "15402", "CaseNo": "HJZF-350600-2025-0017",
        "CaseName": "漳州市龙文区恒亮电镀有限公司通过暗管排放水污染物逃避监管案",
        "CaseSource": "4", "ViolationType": "05", "Procedure": "2", "Status": "5",
        "PartyType": "1", "PartyName": "漳州市龙文区恒亮电镀有限公司",
        "CreditCode": "91350603MA2XD41Q14", "IdCardNo": None, "LegalPerson": "郭某亮",
        "PartyAddress": "漳州市龙文区蓝田经济开发区朝阳北路26号",
        "RegisterTime": "2025/2/26 15:20:00", "CloseTime": "0001/1/1 0:00:00",
        "Facts": "当事人在电镀车间西侧私设暗管，将未经处理的含铬漂洗废水直接排入厂区雨水管网，"
        "经监测总铬浓度为2.35mg/L。",
        "LegalBasis": "《中华人民共和国水污染防治法》第三十九条", "InvolvedAmount": "20",
        "HasDecision": "是", "IsMajor": "是", "Officers": "陈志坚:35060018011;郑雅琳:35060021004",
        "OrgName": "漳州市生态环境局", "OrgCreditCode": "11350600MB1K003506",
        "OrgRegion": "350600", "UpdateTime": "2025/5/9 17:26:44",
    },
)  # fmt: skip

_SAMPLE_DECISIONS: dict[int, Record] = {
    10187: {
        "DecisionNo": "泉惠环罚〔2025〕8号",
        "PenaltyBasis": "《中华人民共和国环境影响评价法》第三十一条第一款",
        "PenaltyTypes": "03", "FineAmount": "3.8", "ConfiscatedAmount": "0",
        "IsLicenseAffected": "否", "LicenseName": None, "DecisionTime": "2025/4/18 0:00:00",
        "PublicityEndDate": "2028/4/17 0:00:00", "UpdateTime": "2025/4/18 16:05:31",
    },
    15402: {
        "DecisionNo": "漳环罚〔2025〕17号",
        "PenaltyBasis": "《中华人民共和国水污染防治法》第八十三条第三项",
        "PenaltyTypes": "03,11", "FineAmount": "20.000000", "ConfiscatedAmount": "",
        "IsLicenseAffected": "否", "LicenseName": None, "DecisionTime": "2025/5/9 0:00:00",
        "PublicityEndDate": None, "UpdateTime": "2025/5/9 17:26:44",
    },
}  # fmt: skip


def sample_dataset() -> Dataset:
    """The cases and decisions of the spec's samples (``samples/*.xml``), as the server holds
    them: its answers for them reproduce the sample files byte for byte."""
    dataset = Dataset()
    for case in _SAMPLE_CASES:
        case_id = int(str(case["CaseId"]))
        dataset.add(case, _SAMPLE_DECISIONS.get(case_id))
    return dataset


# --- generated cases --------------------------------------------------------------------------

FUJIAN_COUNTIES: tuple[tuple[str, str, str], ...] = (
    ("350102", "福州市", "鼓楼区"), ("350121", "福州市", "闽侯县"), ("350181", "福州市", "福清市"),
    ("350205", "厦门市", "海沧区"), ("350213", "厦门市", "翔安区"), ("350322", "莆田市", "仙游县"),
    ("350481", "三明市", "永安市"), ("350426", "三明市", "尤溪县"), ("350521", "泉州市", "惠安县"),
    ("350582", "泉州市", "晋江市"), ("350583", "泉州市", "南安市"), ("350526", "泉州市", "德化县"),
    ("350603", "漳州市", "龙文区"), ("350623", "漳州市", "漳浦县"), ("350783", "南平市", "建瓯市"),
    ("350802", "龙岩市", "新罗区"), ("350823", "龙岩市", "上杭县"), ("350981", "宁德市", "福安市"),
    ("350982", "宁德市", "福鼎市"), ("350922", "宁德市", "古田县"),
)  # fmt: skip
"""Real GB/T 2260 county-level codes of Fujian (code, city, county)."""

_CITY_ABBR = {
    "福州市": "榕", "厦门市": "厦", "莆田市": "莆", "三明市": "明", "泉州市": "泉",
    "漳州市": "漳", "南平市": "南", "龙岩市": "龙", "宁德市": "宁",
}  # fmt: skip
_SURNAMES = "陈林黄张李王吴刘蔡杨郑许谢郭洪曾邱廖赖徐周叶苏庄"
_GIVEN = "志明建华伟强丽芳秀英海峰雅琳文斌晓东国平金水振兴春梅"
_BRANDS = ("鑫源", "恒达", "闽兴", "宏泰", "金山", "永盛", "华远", "东升", "清源", "瑞丰", "榕发")
_TRADES = ("化工", "电镀", "石材", "印染", "造纸", "食品", "建材", "陶瓷", "皮革", "五金")
_STREETS = ("工业路", "滨海大道", "兴业路", "创业路", "园区一路", "南环路")


@dataclass(frozen=True)
class _Violation:
    name: str
    basis: str
    penalty_basis: str
    penalty_types: str
    facts: str


_VIOLATIONS: dict[str, _Violation] = {
    "01": _Violation(
        "超过大气污染物排放标准排放大气污染物", "《中华人民共和国大气污染防治法》第十八条",
        "《中华人民共和国大气污染防治法》第九十九条第二项", "03",
        "经监测，当事人{where}废气排放口颗粒物浓度为{n}mg/m³，超过排放标准限值。",
    ),
    "02": _Violation(
        "未依法报批建设项目环境影响报告表擅自开工建设",
        "《中华人民共和国环境影响评价法》第二十五条",
        "《中华人民共和国环境影响评价法》第三十一条第一款", "03",
        "当事人{where}扩建项目未依法报批环境影响报告表，于检查时已擅自开工建设，完成投资{n}万元。",
    ),
    "03": _Violation(
        "配套环境保护设施未经验收即投入生产", "《建设项目环境保护管理条例》第十九条第一款",
        "《建设项目环境保护管理条例》第二十三条第一款", "03",
        "当事人{where}生产线配套的废水处理设施未经验收，已投入生产{n}日。",
    ),
    "04": _Violation(
        "未取得排污许可证排放污染物", "《排污许可管理条例》第二条第一款",
        "《排污许可管理条例》第三十三条第一项", "03,10",
        "当事人{where}未取得排污许可证，自{n}月起排放工业废水。",
    ),
    "05": _Violation(
        "通过暗管排放水污染物逃避监管", "《中华人民共和国水污染防治法》第三十九条",
        "《中华人民共和国水污染防治法》第八十三条第三项", "03,11",
        "当事人在{where}私设暗管排放生产废水，经监测总磷浓度为{n}mg/L。",
    ),
    "06": _Violation(
        "非法处置危险废物", "《中华人民共和国固体废物污染环境防治法》第二十条；"
        "《中华人民共和国固体废物污染环境防治法》第七十九条",
        "《中华人民共和国固体废物污染环境防治法》第一百一十二条第一款第二项", "03,04",
        "当事人将{where}产生的废矿物油约{n}吨交由无资质单位处置。",
    ),
    "07": _Violation(
        "未按规定贮存危险废物", "《中华人民共和国固体废物污染环境防治法》第八十一条第一款",
        "《中华人民共和国固体废物污染环境防治法》第一百一十二条第一款第六项", "01,03",
        "当事人{where}危险废物贮存场所未设置识别标志，露天堆放废活性炭约{n}吨。",
    ),
    "08": _Violation(
        "工业噪声超标排放", "《中华人民共和国噪声污染防治法》第三十四条",
        "《中华人民共和国噪声污染防治法》第七十五条", "01,03",
        "经监测，当事人{where}厂界夜间噪声为{n}分贝，超过排放标准。",
    ),
    "09": _Violation(
        "施工扬尘污染", "《中华人民共和国大气污染防治法》第六十九条第三款",
        "《中华人民共和国大气污染防治法》第一百一十五条第一款第一项", "03",
        "当事人{where}施工工地未采取覆盖等防尘措施，裸露土方约{n}平方米。",
    ),
}  # fmt: skip


def _pick(rng: random.Random, text: str) -> str:
    return text[rng.randrange(len(text))]


def _person(rng: random.Random) -> str:
    return f"{_pick(rng, _SURNAMES)}某{_pick(rng, _GIVEN)}"


def _officer(rng: random.Random) -> str:
    return _pick(rng, _SURNAMES) + _pick(rng, _GIVEN) + _pick(rng, _GIVEN)


def _uscc(rng: random.Random, prefix: str, division: str) -> str:
    body = prefix + division + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc_check_char(body)


def _agency(division: str, city: str, county: str) -> tuple[str, str]:
    name = f"{city}{county[:-1] if len(county) > 2 else county}生态环境局"
    rng = random.Random(int(division))
    body = "11" + division + "MB" + "".join(rng.choice(USCC_ALPHABET) for _ in range(7))
    return name, body + uscc_check_char(body)


def _resident_id(rng: random.Random, division: str) -> str:
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(365 * 40))
    first17 = f"{division}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_id_check_char(first17)


def _wan(rng: random.Random) -> str:
    value = Decimal(rng.choice([5000, 10000, 38000, 100000, 200000, 356780, 1000000])) / 10000
    return rng.choice([str(value.normalize()), f"{value:.6f}"])


def _party(rng: random.Random, division: str, city: str, county: str, code: str) -> Record:
    street = f"{city}{county}{rng.choice(_STREETS)}{rng.randrange(1, 300)}号"
    if code in ("06", "08", "09") and rng.random() < 0.3:
        return {
            "PartyType": "4", "PartyName": _person(rng), "CreditCode": None,
            "IdCardNo": _resident_id(rng, division), "LegalPerson": None, "PartyAddress": street,
        }  # fmt: skip
    kind = "3" if rng.random() < 0.15 else "1"
    trade = rng.choice(_TRADES)
    name = f"{county}{rng.choice(_BRANDS)}{trade}" + ("厂" if kind == "3" else "有限公司")
    uscc = _uscc(rng, "92" if kind == "3" else "91", division)
    if rng.random() < 0.1:  # hand-typed full-width code (quirk Q7)
        uscc = "".join(chr(ord(c) + 0xFEE0) for c in uscc)
    return {
        "PartyType": kind, "PartyName": name, "CreditCode": uscc, "IdCardNo": None,
        "LegalPerson": _person(rng), "PartyAddress": "null" if rng.random() < 0.05 else street,
    }  # fmt: skip


def _generate_one(
    rng: random.Random, case_id: int, sequence: int, updated: dt.datetime
) -> tuple[Record, Record | None]:
    division, city, county = rng.choice(FUJIAN_COUNTIES)
    code = rng.choice(sorted(_VIOLATIONS))
    violation = _VIOLATIONS[code]
    party = _party(rng, division, city, county, code)
    registered = updated - dt.timedelta(days=rng.randrange(1, 120), minutes=rng.randrange(600))
    decided = rng.random() < 0.6
    status = rng.choice("567") if decided else rng.choice("12348")
    org_name, org_uscc = _agency(division, city, county)
    cert = f"{division}{rng.randrange(15, 24)}{rng.randrange(1, 60):03d}"
    cert2 = f"{division}{rng.randrange(15, 24)}{rng.randrange(60, 120):03d}"
    where = rng.choice(["厂区", "生产车间", "污水处理站", "项目工地"])
    case: Record = {
        "CaseId": str(case_id), "CaseNo": f"HJZF-{division}-{registered.year}-{sequence:04d}",
        "CaseName": f"{party['PartyName']}{violation.name}案",
        "CaseSource": rng.choice("123456789"), "ViolationType": code,
        "Procedure": "2", "Status": status, **party,
        "RegisterTime": net_datetime(registered),
        "CloseTime": net_datetime(updated) if status == "7" else rng.choice(
            ["0001/1/1 0:00:00", "1900/1/1 0:00:00"]),
        "Facts": violation.facts.format(where=where, n=rng.randrange(2, 400)),
        "LegalBasis": violation.basis,
        "InvolvedAmount": rng.choice([_wan(rng), "0", "", None, "null"]),
        "HasDecision": "是" if decided else "否",
        "IsMajor": "是" if status == "8" else "否",
        "Officers": f"{_officer(rng)}:{cert};{_officer(rng)}:{cert2}",
        "OrgName": org_name, "OrgCreditCode": org_uscc, "OrgRegion": division,
        "UpdateTime": net_datetime(updated),
    }  # fmt: skip
    if not decided:
        return case, None
    decision_day = (registered + (updated - registered) / 2).date()
    license_hit = "08" in violation.penalty_types or rng.random() < 0.1
    decision: Record = {
        "DecisionNo": f"{_CITY_ABBR[city]}{county[0]}环罚〔{decision_day.year}〕{sequence}号",
        "PenaltyBasis": violation.penalty_basis,
        "PenaltyTypes": violation.penalty_types + (",06" if license_hit else ""),
        "FineAmount": _wan(rng), "ConfiscatedAmount": rng.choice(["0", "", None]),
        "IsLicenseAffected": "是" if license_hit else "否",
        "LicenseName": f"排污许可证（{division}{sequence:04d}）" if license_hit else None,
        "DecisionTime": f"{decision_day.year}/{decision_day.month}/{decision_day.day} 0:00:00",
        "PublicityEndDate": None if rng.random() < 0.3 else
        f"{decision_day.year + 3}/{decision_day.month}/{min(decision_day.day, 28)} 0:00:00",
        "UpdateTime": case["UpdateTime"],
    }  # fmt: skip
    if not license_hit and rng.random() < 0.2:
        del decision["LicenseName"]  # older records lack the element
    return case, decision


def generate_dataset(
    count: int,
    *,
    since: dt.datetime,
    until: dt.datetime,
    seed: int = 2025,
    first_case_id: int = 30001,
) -> Dataset:
    """``count`` realistic cases updated between ``since`` and ``until`` (naive Beijing times),
    about 60 % with a penalty decision; the same ``seed`` gives the same cases."""
    rng = random.Random(seed)
    span = max(int((until - since).total_seconds()), 1)
    dataset = Dataset()
    for offset in range(count):
        updated = since + dt.timedelta(seconds=rng.randrange(span + 1))
        case, decision = _generate_one(rng, first_case_id + offset, offset + 1, updated)
        dataset.add(case, decision)
    return dataset
