"""market_reg — 福建省市场监督管理局行政执法办案系统 (self-built, 市场监管): nightly file export.

Every night the case-handling system (导出作业 FJSCJG-AJBL) drops the case records and penalty
decisions that changed the day before on the bus's drop server (``/inbox/market_reg/``): two
JSON Lines files with a BOM, ``cases_<yyyyMMdd>.jsonl`` and ``decisions_<yyyyMMdd>.jsonl``,
then a manifest signed with HMAC-SHA256 that gives each file's size, SHA-256 and line count.
Nothing flows back except the import report, which people read.

- ``SPEC.batch_jobs``: ``market_reg-nightly-import`` verifies each complete night (the manifest
  first, then each file), emits each verified file as one ``cases`` / ``decisions`` message,
  moves the night to ``processed/`` or ``refused/`` and writes ``report_<yyyyMMdd>.json``
  (``adapters.market_reg._import``). ``SPEC.poll`` does the same when ``watch`` is on.
- ``SPEC.verify`` checks a data file against its manifest (``meta['manifest']`` = a path for
  ``ebus map market_reg cases FILE --meta manifest=PATH``; ``meta['manifest_json']`` as the
  import emits it); ``SPEC.prepare`` reads its lines (``adapters.market_reg._records``).
- ``mappings/market_reg/{cases,decisions}.yaml`` make one canonical message per record; a bad
  record is dead-lettered alone, a ``jlid`` seen before makes no new message.

Example (routes)::

    from: {system: market_reg, message: cases}        # → enforcement.case.v1
    from: {system: market_reg, message: decisions}    # → enforcement.penalty_decision.v1
"""

from __future__ import annotations

from adapters.market_reg._config import MarketRegConfig
from adapters.market_reg._import import import_nights, nightly_import, poll
from adapters.market_reg._manifest import parse_manifest, sign_manifest, verify
from adapters.market_reg._records import prepare, read_lines
from adapters.market_reg._transforms import TRANSFORMS
from runner.adapter_api import AdapterSpec, BatchJob, MessageType

__all__ = [
    "DEMO_SECRET",
    "SPEC",
    "MarketRegConfig",
    "import_nights",
    "nightly_import",
    "parse_manifest",
    "poll",
    "prepare",
    "read_lines",
    "sign_manifest",
    "verify",
]

DEMO_SECRET = "scjg-ajbl-export-test-2024"
"""The spec's test export secret (README §2.2): demo and test configs only."""

SPEC = AdapterSpec(
    id="market_reg",
    name_zh="福建省市场监督管理局行政执法办案系统",
    name_en="Fujian Administration for Market Regulation case-handling system",
    group="self-built",
    summary="Nightly file drop: JSON Lines with BOM, HMAC-SHA256-signed sha256 manifest.",
    config=MarketRegConfig,
    messages=(
        MessageType(
            "cases",
            "inbound",
            "cases_<yyyyMMdd>.jsonl (UTF-8 with BOM, one JSON record per line)",
            "enforcement.case.v1",
        ),
        MessageType(
            "decisions",
            "inbound",
            "decisions_<yyyyMMdd>.jsonl (UTF-8 with BOM, one JSON record per line)",
            "enforcement.penalty_decision.v1",
        ),
        MessageType(
            "manifest",
            "inbound",
            "manifest_<yyyyMMdd>.json (signed; authorises the night's two files)",
            None,
        ),
    ),
    demo_config={
        "url": "file:///tmp/ebus-market-reg-drop",
        "export_secret": DEMO_SECRET,
        "watch": True,
        "poll_interval_s": 2,
    },
    verify=verify,
    prepare=prepare,
    transforms=TRANSFORMS,
    poll=poll,
    batch_jobs=(
        BatchJob(
            name="market_reg-nightly-import",
            schedule="*/5 1-7 * * *",
            run=nightly_import,
            summary="Verify and import the night's cases and decisions files (data date).",
        ),
    ),
)
