"""two_laws — 福建省"两法衔接"信息共享平台 (provincial): case entries, transfers, notices.

SOAP 1.1 (README §2), one port with two operations:

- ``submit_case`` (``submitCaseInfo``): the bus enters cases that reach or approach a
  prosecution threshold (infoType 01, from ``enforcement.case.v1``), every transfer (02) and
  every later status of it (03, deltas), both from ``enforcement.case_transfer.v1``. The one
  mapping ``mappings/two_laws/submit_case.yaml`` renders both schemas (its ``source`` can name
  only one: see the note there). ``SPEC.frame`` checks the README's requirements, signs
  ``AuthInfo`` and writes the envelope exactly as the samples do (``adapters.two_laws._wire``).
  Answers (GBK) map to a delivery outcome with ``submit_case_response.yaml``.
- ``fetch_notices_request`` (``fetchSupervisionNotices``): ``SPEC.poll`` polls each agency from
  its own sequence cursor and emits every new notice as one ``fetch_notices_response`` message
  (``adapters.two_laws._poll``); ``SPEC.prepare`` gives the mapping the request's ``orgCode``.

Which cases are entered (infoType 01) is a route step, not the adapter's: the filter of
``routes/two_laws-case-entries.yaml`` is ``transforms.entry_due`` written in JMESPath
(``entry_condition``, from ``thresholds.csv``). A later version of an entered case follows while
it still meets the rule; one that falls below 80 % does not (no durable record of entered cases
exists for a route condition, and README §3.2 has no ``zsbz`` for it).
``adapters.two_laws.simulator`` is the platform on loopback for tests.

Example (routes)::

    from: {system: two_laws, message: fetch_notices_response}    # SPEC.poll emits it
    to:   [{system: two_laws, message: submit_case}]              # SPEC.frame signs it
"""

from __future__ import annotations

from adapters.two_laws._answers import NoticePage, read_page
from adapters.two_laws._config import TwoLawsConfig
from adapters.two_laws._poll import agencies_of_cycle, poll
from adapters.two_laws._wire import (
    NAMESPACE,
    SERVICE,
    fetch_request,
    frame,
    open_transport,
    prepare,
    sign,
    timestamp,
)
from adapters.two_laws.transforms import TRANSFORMS, entry_condition, entry_due, threshold_flags
from runner.adapter_api import AdapterSpec, MessageType

__all__ = [
    "NAMESPACE",
    "SERVICE",
    "SPEC",
    "NoticePage",
    "TwoLawsConfig",
    "agencies_of_cycle",
    "entry_condition",
    "entry_due",
    "fetch_request",
    "frame",
    "open_transport",
    "poll",
    "prepare",
    "read_page",
    "sign",
    "threshold_flags",
    "timestamp",
]

SPEC = AdapterSpec(
    id="two_laws",
    name_zh="福建省行政执法与刑事司法衔接信息共享平台（两法衔接平台）",
    name_en='Fujian "two laws" administrative / criminal justice information-sharing platform',
    group="provincial",
    summary="SOAP 1.1: cases and transfers submitted, supervision notices polled per agency.",
    config=TwoLawsConfig,
    messages=(
        MessageType(
            "submit_case",
            "outbound",
            "SOAP 1.1 submitCaseInfo: caseInfo (01) or transferInfo (02, 03)",
            "enforcement.case.v1",
            response="submit_case_response",
        ),
        MessageType(
            "submit_case_response",
            "inbound",
            "submitCaseInfoResponse (GBK) or SOAP Fault",
            "delivery_outcome",
        ),
        MessageType(
            "fetch_notices_request",
            "outbound",
            "SOAP 1.1 fetchSupervisionNotices(orgCode, sinceSeq)",
            "notice_fetch",
            response="fetch_notices_response",
        ),
        MessageType(
            "fetch_notices_response",
            "inbound",
            "fetchSupervisionNoticesResponse (GBK): one message per notice",
            "enforcement.supervision_notice.v1",
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18084/lfxj/services/exchange",
        "user_name": "MZF_ESB",
        "password": "Lfxj@2024#Esb",  # the README's test password (§2.2), test/demo only
        "org_codes": ["11350200MB1C034749", "11350500MB0P661250"],
    },
    prepare=prepare,
    frame=frame,
    transforms=TRANSFORMS,
    poll=poll,
    connect=open_transport,
)
