"""Reading the specs' ``.http`` samples (a request as it goes on the wire), for every adapter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["HttpSample", "parse_http"]


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
