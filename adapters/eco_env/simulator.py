"""A loopback simulator of the eco_env SOAP service (LawEnforceService.asmx): tests and demo.

It is a real SOAP 1.1 server (``AsmxSimulator`` on ``HttpSimulator``) that behaves as the spec
says, wire quirks included:

- ``GET …asmx?WSDL`` serves the adapter's WSDL with ``soap:address`` pointing at itself;
- every call's ``AuthHeader`` is verified (user, upper-case MD5 ``Sign``, ``Timestamp`` within
  ±10 minutes of ``clock()``), else the spec's Fault "身份验证失败" (HTTP 500);
- ``GetCaseList`` returns the cases whose ``UpdateTime`` is in ``[startTime, endTime]`` (both
  inclusive), ordered by ``UpdateTime``, ``CaseId``, paged; ``<Error>`` 1001/1002/1003 for
  unreadable times, spans over 7 days and page sizes outside 1..200;
- ``GetPenaltyDecision``: the decision, or ``<Error>`` 1004 (no such case) / 1005 (no decision);
- ``PushJointTask`` checks the ``<JointTask>`` (``<Error>`` 2002), records it in ``tasks`` and
  is idempotent on ``RecordNo``: a second push answers ``2001`` with the same ``JointTaskId``;
- results are XmlSerializer strings (utf-16 declaration, CRLF escaped as ``&#xD;``,
  ``xsi:nil``, CDATA ``Facts``, .NET dates without leading zeros, amounts in 万元).

Faults: ``inject`` (HTTP: latency, 503, dropped connections, malformed bodies) and
``inject_soap`` (``timeout`` and ``null_reference`` Faults, ``busy`` = ``<Error>`` 9001,
``dtd`` = a result document with a DTD, ``dtd_envelope`` = a DTD in the envelope,
``duplicate`` = the next page also carries the first record of the page after it, as an
inclusive ``BETWEEN`` in the server's row-number paging would, so that record comes twice).

Example::

    with EcoEnvSimulator(clock=lambda: dt.datetime(2025, 6, 3, 17, 0)) as sim:
        config = EcoEnvConfig(endpoint=sim.endpoint, user_name=USER_NAME, secret_key=SECRET_KEY)
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from adapters._simulators.http import Request, Response
from adapters._simulators.soap import (
    AsmxSimulator,
    Cdata,
    Node,
    Operation,
    SoapCall,
    SoapFaultAnswer,
    soap_fault,
    xml_serializer_document,
)
from adapters.eco_env._calls import sign
from adapters.eco_env._dataset import (
    CASE_FIELDS,
    Dataset,
    Record,
    generate_dataset,
    net_datetime,
    parse_net_datetime,
    sample_dataset,
)
from runner.adapter_api import MessageRejected, parse_xml
from schemas.timeutil import SHANGHAI

__all__ = [
    "AUTH_FAULT",
    "NAMESPACE",
    "PATH",
    "SECRET_KEY",
    "USER_NAME",
    "Dataset",
    "EcoEnvSimulator",
    "ReceivedTask",
    "SoapFaultKind",
    "case_list_document",
    "decision_document",
    "demo_simulator",
    "error_document",
    "generate_dataset",
    "net_datetime",
    "sample_dataset",
    "task_result_document",
]

NAMESPACE = "http://tempuri.org/"
PATH = "/EnforceService/LawEnforceService.asmx"
USER_NAME = "fjzf_esb"
SECRET_KEY = "Hj#2025@FjzfEsb!test"
"""The test account of the spec's worked example."""
AUTH_FAULT = "服务器无法处理请求。 ---> 身份验证失败：签名错误或时间戳超出允许范围。"
TIMEOUT_FAULT = (
    "服务器无法处理请求。 ---> System.Data.SqlClient.SqlException: Timeout expired.  The timeout "
    "period elapsed prior to completion of the operation or the server is not responding."
)
NULL_REFERENCE_FAULT = "服务器无法处理请求。 ---> 未将对象引用设置到对象的实例。"
MAX_SKEW = dt.timedelta(minutes=10)
MAX_SPAN = dt.timedelta(days=7)
_WSDL = Path(__file__).with_name("service.wsdl")
_WINDOW_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")
_TASK_FIELDS = (
    "TaskNo", "RecordNo", "TaskType", "LeadOrg", "LeadOrgCode", "LeadOrgRegion", "TargetName",
    "TargetCreditCode", "TargetAddress", "PlanDate", "CheckItems", "LeadOfficers", "Region",
)  # fmt: skip
_MESSAGES = {
    "1001": "参数格式错误",
    "1002": "查询时间跨度不能超过7天",
    "1003": "每页记录数不能超过200",
    "1004": "案件不存在",
    "1005": "该案件尚未作出处罚决定",
    "2002": "任务数据校验失败",
    "9001": "数据库繁忙，请稍后重试",
}

SoapFaultKind = Literal["timeout", "null_reference", "busy", "dtd", "dtd_envelope", "duplicate"]

# --- result documents ---------------------------------------------------------------------------


def _node(name: str, value: str | None) -> Node:
    return (name, Cdata(value) if name == "Facts" and value is not None else value)


def case_list_document(cases: list[Record], total: int, page_index: int, page_size: int) -> str:
    """The ``<CaseList>`` result string of one page."""
    infos: list[Node] = [
        ("CaseInfo", [_node(n, case[n]) for n in CASE_FIELDS if n in case]) for case in cases
    ]
    return xml_serializer_document(
        "CaseList",
        [
            ("TotalCount", str(total)),
            ("PageIndex", str(page_index)),
            ("PageSize", str(page_size)),
            ("Cases", infos),
        ],
    )


def decision_document(decision: Record) -> str:
    """The ``<PenaltyDecision>`` result string of a joined decision record."""
    return xml_serializer_document("PenaltyDecision", [_node(n, v) for n, v in decision.items()])


def error_document(code: str, message: str | None = None) -> str:
    """An ``<Error>`` result string (the message defaults to the spec's text for ``code``)."""
    text = message or _MESSAGES.get(code, "")
    return xml_serializer_document("Error", [("Code", code), ("Message", text)])


def task_result_document(code: str, message: str, joint_task_id: str) -> str:
    """A ``<Result>`` string of ``PushJointTask``."""
    return xml_serializer_document(
        "Result", [("Code", code), ("Message", message), ("JointTaskId", joint_task_id)]
    )


_DTD_RESULT = (
    '<?xml version="1.0" encoding="utf-16"?>\r\n<!DOCTYPE CaseList [\r\n'
    '  <!ENTITY boom "boomboomboomboom">\r\n]>\r\n<CaseList><TotalCount>&boom;</TotalCount>'
    "</CaseList>"
)
_DTD_ENVELOPE = (
    b'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE Envelope [<!ENTITY x SYSTEM '
    b'"file:///etc/passwd">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
    b'envelope/"><soap:Body>&x;</soap:Body></soap:Envelope>'
)


@dataclass(frozen=True)
class ReceivedTask:
    """A joint task the service accepted."""

    record_no: str
    joint_task_id: str
    task_xml: str
    fields: Mapping[str, str]
    items: tuple[tuple[str, str], ...]


class _Refused(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.document = error_document(code, message)


def _beijing_naive(at: dt.datetime) -> dt.datetime:
    return at.astimezone(SHANGHAI).replace(tzinfo=None) if at.tzinfo else at


def _default_clock() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


class EcoEnvSimulator(AsmxSimulator):
    """The eco_env service on 127.0.0.1; use as a context manager.

    ``clock`` gives the server's time (auth skew, new ``UpdateTime``, ``JointTaskId`` dates);
    ``dataset`` defaults to the spec's sample cases; ``max_concurrent`` requests per account
    (a further one gets HTTP 503, as IIS answers), with ``latency_s`` of service time each.
    """

    def __init__(
        self,
        *,
        dataset: Dataset | None = None,
        clock: Callable[[], dt.datetime] = _default_clock,
        user_name: str = USER_NAME,
        secret_key: str = SECRET_KEY,
        port: int = 0,
        task_sequence_start: int = 1,
        max_concurrent: int = 2,
        latency_s: float = 0.0,
    ) -> None:
        super().__init__(wsdl=_WSDL.read_bytes(), path=PATH, namespace=NAMESPACE, port=port)
        self.dataset = dataset if dataset is not None else sample_dataset()
        self.clock = clock
        self.user_name = user_name
        self.secret_key = secret_key
        self.max_concurrent = max_concurrent
        self.latency_s = latency_s
        self.tasks: list[ReceivedTask] = []
        self._task_ids: dict[str, str] = {}
        self._task_sequence = task_sequence_start
        self._duplicates = 0
        self._in_flight = 0
        self._data_lock = threading.Lock()

    # --- test controls -------------------------------------------------------------------------

    def inject_soap(
        self, kind: SoapFaultKind, *, operation: str | None = None, times: int = 1
    ) -> None:
        """Queue a SOAP-level fault for the next ``times`` calls of ``operation`` (any)."""
        if kind == "duplicate":
            with self._data_lock:
                self._duplicates += times
            return
        answers: dict[str, str | Response] = {
            "timeout": Response(500, soap_fault(TIMEOUT_FAULT), _XML),
            "null_reference": Response(500, soap_fault(NULL_REFERENCE_FAULT), _XML),
            "busy": error_document("9001"),
            "dtd": _DTD_RESULT,
            "dtd_envelope": Response(200, _DTD_ENVELOPE, _XML),
        }
        self.inject_answer(answers[kind], operation=operation, times=times)

    def add_case(self, case: Record, decision: Record | None = None) -> None:
        """Add or replace a case (and its decision)."""
        with self._data_lock:
            self.dataset.add(case, decision)

    def update_case(self, case_id: int, **fields: str | None) -> Record:
        """Change a case as an officer would: ``UpdateTime`` becomes ``clock()``."""
        with self._data_lock:
            case = self.dataset.cases[case_id]
            case.update(fields)
            case["UpdateTime"] = net_datetime(_beijing_naive(self.clock()))
            return dict(case)

    # --- the service ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Serve one request, answering 503 beyond ``max_concurrent`` requests in flight."""
        with self._data_lock:
            self._in_flight += 1
            busy = self._in_flight > self.max_concurrent
        try:
            if busy:
                return Response(503, b"<html><body>Service Unavailable</body></html>", _HTML)
            if self.latency_s:
                time.sleep(self.latency_s)
            return super().handle(request)
        finally:
            with self._data_lock:
                self._in_flight -= 1

    def operations(self) -> Mapping[str, Operation]:
        """GetCaseList, GetPenaltyDecision, PushJointTask."""
        return {
            "GetCaseList": self._refusing(self._get_case_list),
            "GetPenaltyDecision": self._refusing(self._get_penalty_decision),
            "PushJointTask": self._refusing(self._push_joint_task),
        }

    def authenticate(self, call: SoapCall) -> None:
        """Verify ``AuthHeader``: user, Sign and a Timestamp within ±10 minutes."""
        header = call.headers.get("AuthHeader", {})
        user, stamp = header.get("UserName", ""), header.get("Timestamp", "")
        try:
            at = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S")
        except ValueError:
            raise SoapFaultAnswer(AUTH_FAULT) from None
        skew = abs(_beijing_naive(self.clock()) - at)
        expected = sign(self.user_name, stamp, self.secret_key)
        if user != self.user_name or header.get("Sign") != expected or skew > MAX_SKEW:
            raise SoapFaultAnswer(AUTH_FAULT)

    @staticmethod
    def _refusing(operation: Callable[[SoapCall], str]) -> Operation:
        def run(call: SoapCall) -> str:
            try:
                return operation(call)
            except _Refused as refused:
                return refused.document

        return run

    def _get_case_list(self, call: SoapCall) -> str:
        start = _window_time(call.params.get("startTime"))
        end = _window_time(call.params.get("endTime"))
        page_index = _integer(call.params, "pageIndex")
        page_size = _integer(call.params, "pageSize")
        if end < start or page_index < 1:
            raise _Refused("1001")
        if end - start > MAX_SPAN:
            raise _Refused("1002")
        if not 1 <= page_size <= 200:
            raise _Refused("1003")
        offset = (page_index - 1) * page_size
        with self._data_lock:
            selected = sorted(
                (
                    (parse_net_datetime(str(case["UpdateTime"])), case_id, dict(case))
                    for case_id, case in self.dataset.cases.items()
                ),
                key=lambda item: (item[0], item[1]),
            )
            selected = [item for item in selected if start <= item[0] <= end]
            extra = 1 if self._duplicates and offset + page_size < len(selected) else 0
            self._duplicates -= extra
        page = [case for _, _, case in selected[offset : offset + page_size + extra]]
        return case_list_document(page, len(selected), page_index, page_size)

    def _get_penalty_decision(self, call: SoapCall) -> str:
        case_id = _integer(call.params, "caseId")
        with self._data_lock:
            if case_id not in self.dataset.cases:
                raise _Refused("1004")
            decision = self.dataset.decision_record(case_id)
        if decision is None:
            raise _Refused("1005")
        return decision_document(decision)

    def _push_joint_task(self, call: SoapCall) -> str:
        task_xml = call.params.get("taskXml") or ""
        fields, items = _read_task(task_xml)
        record_no = fields["RecordNo"]
        with self._data_lock:
            existing = self._task_ids.get(record_no)
            if existing is not None:
                return task_result_document("2001", "任务已存在", existing)
            day = _beijing_naive(self.clock())
            joint_task_id = f"LHZF-{fields['Region']}-{day:%Y%m%d}-{self._task_sequence:04d}"
            self._task_sequence += 1
            self._task_ids[record_no] = joint_task_id
            self.tasks.append(ReceivedTask(record_no, joint_task_id, task_xml, fields, items))
        return task_result_document("0", "成功", joint_task_id)


_XML = {"Content-Type": "text/xml; charset=utf-8"}
_HTML = {"Content-Type": "text/html; charset=utf-8"}
_PLAN_DATE = re.compile(r"\d{4}/\d{1,2}/\d{1,2}")


def _window_time(text: str | None) -> dt.datetime:
    for pattern in _WINDOW_FORMATS:
        try:
            return dt.datetime.strptime((text or "").strip(), pattern)
        except ValueError:
            continue
    raise _Refused("1001")


def _integer(params: Mapping[str, str | None], name: str) -> int:
    try:
        return int((params.get(name) or "").strip())
    except ValueError:
        raise _Refused("1001") from None


def _read_task(task_xml: str) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """The fields and check items of a ``<JointTask>``; ``<Error>`` 2002 when it is invalid."""
    if task_xml.lstrip().startswith("<?xml") or re.search(r">\s+<", task_xml):
        raise _Refused("2002", "任务数据校验失败：taskXml 不得包含 XML 声明或元素间空白")
    try:
        root = parse_xml(task_xml)
    except MessageRejected as exc:
        raise _Refused("2002", f"任务数据校验失败：{exc.reason}") from None
    names = [child.tag for child in root]
    if root.tag != "JointTask" or names != list(_TASK_FIELDS):
        raise _Refused("2002", "任务数据校验失败：JointTask 元素缺失或顺序错误")
    fields = {str(child.tag): (child.text or "") for child in root if child.tag != "CheckItems"}
    items = tuple(
        (item.findtext("Code") or "", item.findtext("Name") or "")
        for item in root.iterfind("CheckItems/Item")
    )
    empty = [n for n, v in fields.items() if not v.strip() and n != "TargetAddress"]
    if empty or not items or not all(code and name for code, name in items):
        raise _Refused("2002", f"任务数据校验失败：必填项为空 {','.join(empty)}")
    if not _PLAN_DATE.fullmatch(fields["PlanDate"]) or not re.fullmatch(r"\d{6}", fields["Region"]):
        raise _Refused("2002", "任务数据校验失败：PlanDate 或 Region 格式错误")
    return fields, items


def demo_simulator(port: int = 18081, extra_cases: int = 200) -> EcoEnvSimulator:
    """The simulator ``make demo`` runs (at the demo config's endpoint): the sample cases plus
    ``extra_cases`` generated ones updated during the six days before now − 2 minutes, so a
    first poll window of seven days finds them all (not started)."""
    until = _beijing_naive(_default_clock()) - dt.timedelta(minutes=2)
    generated = generate_dataset(extra_cases, since=until - dt.timedelta(days=6), until=until)
    dataset = sample_dataset().extend(generated)
    return EcoEnvSimulator(dataset=dataset, port=port)


def main() -> None:  # pragma: no cover - interactive
    """``python -m adapters.eco_env.simulator``: serve the demo simulator until Ctrl-C."""
    simulator = demo_simulator().start()
    print(f"eco_env simulator at {simulator.endpoint} (WSDL: {simulator.wsdl_url})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
