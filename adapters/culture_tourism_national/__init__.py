"""culture_tourism_national — 文化和旅游部 全国文化市场技术监管与服务平台 (national): a daily batch.

JAX-WS SOAP 1.1 ``ProvinceExchangeService`` (README §2): every request carries an
``AuthHeader`` signed with SM3 over ``appKey&timestamp&nonce&appSecret`` (``_signing``); the
wrapper element is qualified, its children are not; ``SOAPAction: ""``.

The work is scheduled, not continuous (``SPEC.batch_jobs``, README §1.1):

- ``daily_upload`` (01:30 on D+1): the culture/tourism cases and penalty decisions of day D
  become one package (``cases.xml`` + ``decisions.xml`` in a byte-exact ZIP, ``_package``),
  uploaded with ``uploadDailyPackage``; then ``queryBatchResult`` (at most every 5 minutes)
  until ``SUCCESS``, ``PARTIAL`` or ``FAILED``. Both answers are delivery outcomes.
- ``blacklist`` (06:30 on D+1): ``downloadBlacklist`` of day D; its Base64 ZIP is opened by
  ``prepare`` (sha256, hardened ZIP, GBK) and each ``Entry`` maps to
  ``enforcement.dishonest_check.v1``.

The outbound mapping renders the package records; ``frame`` builds and signs the upload, so
``ebus render culture_tourism_national upload_daily_package FILE --meta now=… --meta nonce=…
--meta bizDate=…`` prints the exact request. ``adapters.culture_tourism_national.simulator``
is a loopback JAX-WS server of the service (it serves the WSDL) for tests and the demo.

Example (the route of the blacklist; the upload is a batch job, not a route destination)::

    from: {system: culture_tourism_national, message: download_blacklist}
    to:   [{feed: enforcement.dishonest_check.v1}]
"""

from __future__ import annotations

from adapters.culture_tourism_national._config import CultureTourismConfig
from adapters.culture_tourism_national._jobs import (
    BLACKLIST_JOB,
    UPLOAD_JOB,
    run_blacklist,
    run_daily_upload,
)
from adapters.culture_tourism_national._package import Package, build_package, read_package
from adapters.culture_tourism_national._signing import sign
from adapters.culture_tourism_national._transforms import TRANSFORMS
from adapters.culture_tourism_national._wire import (
    SERVICE,
    download_blacklist_request,
    frame,
    open_transport,
    prepare,
    query_batch_result_request,
    upload_request,
)
from runner.adapter_api import AdapterSpec, MessageType

__all__ = [
    "BLACKLIST_JOB",
    "SERVICE",
    "SPEC",
    "UPLOAD_JOB",
    "CultureTourismConfig",
    "Package",
    "build_package",
    "download_blacklist_request",
    "frame",
    "open_transport",
    "prepare",
    "query_batch_result_request",
    "read_package",
    "run_blacklist",
    "run_daily_upload",
    "sign",
    "upload_request",
]

SPEC = AdapterSpec(
    id="culture_tourism_national",
    name_zh="文化和旅游部 全国文化市场技术监管与服务平台 省级数据交换服务",
    name_en="Ministry of Culture and Tourism — National Cultural Market Technical Supervision "
    "and Service Platform, provincial exchange service",
    group="national",
    summary="JAX-WS SOAP 1.1 daily batch: a zipped package of WL cases and decisions uploaded "
    "and its result polled; the national blacklist downloaded.",
    config=CultureTourismConfig,
    messages=(
        MessageType(
            "upload_daily_package",
            "outbound",
            "SOAP uploadDailyPackage(orgCode, bizDate, packageZipBase64, sha256)",
            "enforcement.case.v1+enforcement.penalty_decision.v1",
            response="upload_daily_package_response",
        ),
        MessageType(
            "upload_daily_package_response",
            "inbound",
            "uploadDailyPackageResponse or SOAP Fault",
            "delivery_outcome",
        ),
        MessageType(
            "query_batch_result",
            "inbound",
            "queryBatchResultResponse or SOAP Fault (answer to the bus's status query)",
            "delivery_outcome",
        ),
        MessageType(
            "download_blacklist",
            "inbound",
            "downloadBlacklistResponse with the Base64 ZIP (answer to the bus's daily request)",
            "enforcement.dishonest_check.v1",
        ),
    ),
    demo_config={
        "endpoint": "http://127.0.0.1:18125/exchange/ProvinceExchangeService",
        "app_key": "FJWLT350000",
        "app_secret": "Wl35@exch#2023test",  # the README's joint-test secret (§2.2), test/demo only
    },
    prepare=prepare,
    frame=frame,
    transforms=TRANSFORMS,
    connect=open_transport,
    batch_jobs=(UPLOAD_JOB, BLACKLIST_JOB),
)
