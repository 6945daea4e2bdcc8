"""market_platform — 福建省市场监管智慧应用一体化平台 "双随机、一公开" (provincial): file drop.

The platform drops random-inspection task files (抽查任务) into ``inbox/``: GB18030 CSV, one
row per inspected market entity, each announced by a ``.ok`` marker with its row count and MD5.
The bus collects them (``SPEC.poll``, every ``poll_interval_s``), checks marker and registry,
and emits each file as one ``task`` message; the mapping makes one planned
``enforcement.inspection.v1`` per row. Results of the platform's inspections go back as
``outbox/RESULT_<任务编号>.xml`` + ``.ok`` (``SPEC.frame`` writes the XML of README §4.3 and
validates it against ``result.xsd``; ``SPEC.connect`` drops it).

The drop mechanics (fsspec over ``file://`` or ``sftp://``, markers, archive/error, dot-tmp
writes, never overwriting an uncollected file) live in ``adapters._transports.filedrop``;
``adapters.market_platform.simulator`` plays the platform's side for tests and the demo.

Example (routes)::

    from: {system: market_platform, message: task}        # SPEC.poll emits it
    to:   [{system: market_platform, message: result}]     # SPEC.frame + SPEC.connect write it
"""

from __future__ import annotations

from adapters.market_platform._config import MarketPlatformConfig
from adapters.market_platform._connection import ResultDrop, connect
from adapters.market_platform._poll import collect, poll
from adapters.market_platform._results import TRANSFORMS as RESULT_TRANSFORMS
from adapters.market_platform._results import frame, write_result_file
from adapters.market_platform._tasks import prepare, read_task_file
from adapters.market_platform._transforms import TRANSFORMS as TASK_TRANSFORMS
from runner.adapter_api import AdapterSpec, MessageType

__all__ = [
    "SPEC",
    "MarketPlatformConfig",
    "ResultDrop",
    "collect",
    "connect",
    "frame",
    "poll",
    "prepare",
    "read_task_file",
    "write_result_file",
]

SPEC = AdapterSpec(
    id="market_platform",
    name_zh="福建省市场监管智慧应用一体化平台（双随机、一公开）",
    name_en="Fujian market regulation smart platform: double-random inspections",
    group="provincial",
    summary="File drop: GB18030 CSV task files collected, XML result files dropped, .ok markers.",
    config=MarketPlatformConfig,
    messages=(
        MessageType(
            "task",
            "inbound",
            "inbox/TASK_<yyyyMMdd>_<seq>.csv (GB18030 CSV) + .ok marker",
            "enforcement.inspection.v1",
        ),
        MessageType(
            "result",
            "outbound",
            "outbox/RESULT_<任务编号>.xml (UTF-8 XML, result.xsd) + .ok marker",
            "enforcement.inspection.v1",
        ),
    ),
    demo_config={"url": "file:///tmp/ebus-market-platform-drop", "poll_interval_s": 2},
    prepare=prepare,
    frame=frame,
    transforms=(*TASK_TRANSFORMS, *RESULT_TRANSFORMS),
    poll=poll,
    connect=connect,
)
