"""Reading the specs' ``.http`` samples (a request as it goes on the wire), for every adapter.

The reader lives in ``runner.sample_facts``, shared with the contract tests and the bench.
"""

from __future__ import annotations

from runner.sample_facts import HttpSample, parse_http

__all__ = ["HttpSample", "parse_http"]
