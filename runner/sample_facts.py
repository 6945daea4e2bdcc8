"""The specs' inbound wire samples and the transport facts each one arrives with.

A wire sample is ``<message>-<k>.<ext>`` in ``systems/<id>/samples/`` with a sibling
``<message>-<k>.expected.json``; files with a sidecar suffix are not wire bytes. The facts a
sample needs as transport meta or headers (the call an answer answers, a signed push's headers,
a night's manifest …) come from sidecars or, where the specs give them only in prose, from
``PROSE_FACTS``. The contract tests and benchmark (a) read samples through this module, so both
run every sample with the same facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from runner.adapter_api import RawMessage
from runner.specs import specs_dir

__all__ = [
    "SIDECARS",
    "HttpSample",
    "expected_path",
    "parse_http",
    "prose_facts",
    "raw_sample",
    "request_facts",
    "signed_request",
    "wire_samples",
]

SIDECARS = (
    ".expected.json",
    ".input.json",
    ".http",
    ".ok",
    ".taskxml.xml",
    ".amqp.json",
    ".request.json",
    ".request.xml",
    ".plain.json",
    ".signing.json",
    ".headers.json",
    ".blacklist.xml",  # culture_tourism_national: the file inside the ZIP, for reading
)
"""Suffixes of the files beside a wire sample that are not wire bytes themselves."""

_HOP_HEADERS = {"host", "content-length", "connection"}


@dataclass(frozen=True)
class HttpSample:
    """One ``.http`` sample: request line, headers in order, body bytes."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        """The value of header ``name`` (case-insensitive)."""
        return next(value for key, value in self.headers if key.lower() == name.lower())


def parse_http(path: Path) -> HttpSample:
    """The request in ``path`` (CRLF line ends, a blank line, the body)."""
    head, _, body = path.read_bytes().partition(b"\r\n\r\n")
    line, *fields = head.decode("utf-8").split("\r\n")
    method, target, _version = line.split(" ")
    headers = [(k, v) for k, _, v in (f.partition(": ") for f in fields)]
    return HttpSample(method, target, headers, body)


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def expected_path(path: Path) -> Path:
    """The ``.expected.json`` of wire sample ``path``."""
    return path.with_name(_stem(path) + ".expected.json")


def wire_samples(system: str, message: str, specs: Path | None = None) -> list[Path]:
    """The wire samples of ``system``/``message`` that have an ``.expected.json``, sorted."""
    folder = (specs or specs_dir()) / "systems" / system / "samples"
    return [
        path
        for path in sorted(folder.glob(f"{message}-*"))
        if not path.name.endswith(SIDECARS) and expected_path(path).exists()
    ]


def prose_facts(specs: Path | None = None) -> dict[str, dict[str, str]]:
    """Call facts the specs give in prose rather than in a sidecar, by ``<system>/<file>``."""
    samples = (specs or specs_dir()) / "systems"
    facts: dict[str, dict[str, str]] = {
        # hotline_12345 README §8: "HTTP 409 2003 already accepted" — the work order of
        # accept-1 accepted a second time (its GDBH is the expected record_id).
        "hotline_12345/accept_response-2.json": {
            "method": "POST",
            "path": "/api/v3/workorders/GD202503110004521/accept",
            "status": "409",
        },
    }
    # market_reg README §8: a data file is mapped on its own only after the night's manifest
    # (``manifest-<n>.json`` for sample night n) verifies; its path is the ``manifest`` fact.
    facts.update(
        {
            f"market_reg/{kind}-{night}.jsonl": {
                "manifest": str(samples / "market_reg" / "samples" / f"manifest-{night}.json")
            }
            for kind in ("cases", "decisions")
            for night in (1, 2, 3)
        }
    )
    # culture_tourism_national README §8 and §3.2: a batch result's records are those of the
    # package it answers, in package order — query_batch_result-2 answers batch
    # WLSC-35-20240305-0001, the package of upload_daily_package-1
    # (upload_daily_package_response-1); -3 answers the package of upload_daily_package-2.
    # The package's records are the ``package_records`` fact.
    packages = {
        2: [
            ["CASE", "FJ3501002024WL11541298"],
            ["CASE", "FJ3502002024WL38228539"],
            ["CASE", "FJ3505002024WL421EF23E"],
            ["DECISION", "榕文执罚字〔2024〕第015号"],
            ["DECISION", "泉文执罚字〔2024〕第003号"],
        ],
        3: [["CASE", "FJ3502002024WL38228539"], ["DECISION", "厦文旅罚字〔2024〕第008号"]],
    }
    facts.update(
        {
            f"culture_tourism_national/query_batch_result-{n}.xml": {
                "package_records": json.dumps(records, ensure_ascii=False)
            }
            for n, records in packages.items()
        }
    )
    return facts


def request_facts(path: Path, specs: Path | None = None) -> dict[str, str]:
    """Facts of the call an answer sample answers, as transport meta.

    The specs' prose facts first; then ``<stem>.request.json``, which holds them explicitly;
    otherwise the answer ``<op>_response-N`` of a call sampled as ``<op>-N.http`` gets that
    request's method and path, as the HTTP transport reports them for a real call.
    """
    stem = _stem(path)
    prose = prose_facts(specs).get(f"{path.parts[-3]}/{path.name}")
    if prose is not None:
        return prose
    request = path.with_name(stem + ".request.json")
    if request.exists():
        return {k: str(v) for k, v in json.loads(request.read_bytes()).items()}
    operation, _, number = stem.rpartition("-")
    call = path.with_name(f"{operation.removesuffix('_response')}-{number}.http")
    if operation.endswith("_response") and call.exists():
        method, target, *_ = call.read_text(encoding="utf-8").splitlines()[0].split()
        return {"method": method, "path": target.split("?")[0]}
    return {}


def signed_request(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The signed headers (lower-cased) of a pushed sample and the facts that go with them.

    From ``<stem>.headers.json`` (``{"headers": {...}, "bus_clock": ISO}``: the replay clock as
    the ``now`` fact), else from the whole request sampled as ``<stem>.http`` (its method and
    path); empty when there is neither.
    """
    sidecar = path.with_name(_stem(path) + ".headers.json")
    pushed = path.with_name(_stem(path) + ".http")
    if not sidecar.exists() and pushed.exists() and not path.name.endswith(".http"):
        # a pushed request sampled whole: its headers (the signature) go with the body
        request = parse_http(pushed)
        headers = {k.lower(): v for k, v in request.headers if k.lower() not in _HOP_HEADERS}
        return headers, {"method": request.method, "path": request.path}
    if not sidecar.exists():
        return {}, {}
    data = json.loads(sidecar.read_bytes())
    return {k.lower(): v for k, v in data["headers"].items()}, {"now": data["bus_clock"]}


def raw_sample(path: Path, specs: Path | None = None) -> RawMessage:
    """Wire sample ``path`` as the transport hands it to the bus: body, headers and facts."""
    headers, clock = signed_request(path)
    return RawMessage(
        body=path.read_bytes(), headers=headers, meta={**request_facts(path, specs), **clock}
    )
