"""Smoke test of ``python -m bench``: every measurement runs on a tiny workload and reports its
keys. Not a timed assertion: the figures live in ``bench/RESULTS.md``."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main
from tests.services import AMQP_URL, require_rabbitmq

TRACKED = (
    "floor_msgs_per_s",
    "pipeline_msgs_per_s",
    "pipeline_to_floor_ratio",
    "e2e_rabbitmq_msgs_per_s",
    "e2e_rabbitmq_p99_ms",
    "e2e_embedded_msgs_per_s",
    "celery_msgs_per_s",
    "kombu_naive_msgs_per_s",
    "e2e_rabbitmq_to_naive_ratio",
    "kombu_sqlalchemy_msgs_per_s",
    "e2e_embedded_to_kombu_sqlalchemy_ratio",
)
TINY = ["--n", "150", "--runs", "1", "--warmup", "30", "--pipeline-seconds", "0.1"]


@pytest.mark.integration
def test_every_measurement_runs_and_json_has_the_tracked_keys(capsys: pytest.CaptureFixture[str]):
    require_rabbitmq()
    assert main(["--json", *TINY, "--paced-seconds", "0.3", "--amqp-url", AMQP_URL]) == 0
    result = json.loads(capsys.readouterr().out)  # one JSON object, nothing else on stdout
    for key in TRACKED:
        assert isinstance(result[key], int | float), key
    for section in ("rabbitmq", "embedded", "celery"):
        (run,) = result[section]["runs"]
        assert run["n"] == 150
        assert run["duplicates"] == 0
    assert set(result["targets_met"]) == {
        "pipeline_to_floor_ratio",
        "e2e_rabbitmq_msgs_per_s",
        "e2e_rabbitmq_to_naive_ratio",
        "e2e_embedded_msgs_per_s",
        "e2e_embedded_to_kombu_sqlalchemy_ratio",
    }
    assert result["rabbitmq"]["processes"] == 2  # the default: one runtime process per core
    assert result["rabbitmq"]["floor"]["kind"] == "kombu-naive"
    assert result["embedded"]["floor"]["kind"] == "kombu-sqlalchemy"


def test_the_table_shows_the_sections_that_ran(capsys: pytest.CaptureFixture[str]):
    args = [*TINY, "--only", "pipeline", "--only", "embedded", "--paced-seconds", "0"]
    assert main([*args, "--processes", "1"]) == 0
    out = capsys.readouterr().out
    assert "embedded 1;" in out
    assert "(a) floor" in out
    assert "(c) ebus embedded" in out
    assert "(c) floor: kombu SQLAlchemy" in out
