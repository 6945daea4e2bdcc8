"""The outbound link: result files dropped into ``outbox/`` with their markers (README §4.2).

``SPEC.connect`` returns a ``ResultDrop``; ``send(Outgoing(path=file name, body=xml))`` writes
``outbox/<name>`` under ``.<name>.tmp``, renames it, then writes ``<name>.ok``
(``<name>|<record count>|<MD5>`` + CRLF). While the platform has not collected the previous
file of the same task, ``send`` raises ``TransientError`` (``NOT_COLLECTED``): the delivery
worker tries again later and nothing is overwritten. There is no answer channel (§6): a
written file is a complete delivery.
"""

from __future__ import annotations

import datetime as dt
import re

from adapters._transports.filedrop import FileDrop, Marker
from adapters.market_platform._config import as_config
from adapters.market_platform._poll import SYSTEM
from adapters.market_platform._results import RECORD_COUNT_HEADER
from runner.adapter_api import AdapterConfig, MessageRejected, Outgoing, RawMessage, parse_xml
from schemas.timeutil import SHANGHAI

__all__ = ["RESULT_FILE", "ResultDrop", "connect"]

RESULT_FILE = re.compile(r"^RESULT_[A-Za-z0-9][A-Za-z0-9\-]*\.xml$")


def _record_count(call: Outgoing) -> int:
    """The record count of a result file: the framed header, else counted in the XML."""
    given = call.headers.get(RECORD_COUNT_HEADER)
    if given is not None and given.isdigit():
        return int(given)
    root = parse_xml(call.body)
    return sum(1 for child in root if isinstance(child.tag, str) and child.tag.endswith("Record"))


class ResultDrop:
    """A ``Connection`` to the platform's ``outbox/``."""

    def __init__(self, drop: FileDrop, outbox: str = "outbox") -> None:
        self.drop = drop
        self.outbox = outbox

    def send(self, call: Outgoing) -> RawMessage:
        """Drop one result file and its marker; ``TransientError`` while the previous file of
        that name is not collected or the drop is unreachable."""
        name = call.path
        if not RESULT_FILE.fullmatch(name):
            raise MessageRejected(
                f"'{name}' is not a RESULT_<任务编号>.xml name", field="path", rule="file_name"
            )
        marker = Marker.for_file(name, _record_count(call), call.body)
        self.drop.deliver(self.outbox, name, call.body, marker)
        return RawMessage(
            b"", meta={"file": name, "md5": str(marker.md5)}, received_at=dt.datetime.now(SHANGHAI)
        )

    def close(self) -> None:
        """Release the drop session."""
        self.drop.close()


def connect(config: AdapterConfig) -> ResultDrop:
    """``AdapterSpec.connect``: the platform's drop, for result files."""
    settings = as_config(config)
    return ResultDrop(FileDrop.from_config(SYSTEM, settings), settings.outbox)
