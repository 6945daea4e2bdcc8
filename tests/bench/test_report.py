"""The bench report's flat keys, targets and table, on made-up results (no measuring)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.__main__ import _with_floor, parse_args
from bench.floors import BODY_BYTES, FloorConfig, median_floor
from bench.report import (
    EMBEDDED_TO_KOMBU_SQLALCHEMY_TARGET,
    RABBITMQ_TO_NAIVE_TARGET,
    TARGETS,
    ratio,
    summary,
    table,
)


def _section(msgs_per_s: float, floor: float | None = None) -> dict[str, Any]:
    section: dict[str, Any] = {"msgs_per_s": msgs_per_s, "p50_ms": 1.0, "p99_ms": 2.0}
    if floor is not None:
        section["floor"] = {
            "kind": "k",
            "msgs_per_s": floor,
            "runs": [{"msgs_per_s": floor}] * 3,
            "n": 1000,
            "body_bytes": 168,
        }
    return section


def _result(**sections: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": {"n": 10, "runs": 1, "warmup": 0},
        "machine": {"nproc": 2, "python": "3.11", "rabbitmq": "4.0"},
        "load_before": [0.1],
        "load_after": [0.2],
        "wall_s": 1.0,
        **sections,
    }


def test_the_ratio_targets_are_the_issues_pairs_of_rates() -> None:
    assert RABBITMQ_TO_NAIVE_TARGET == 2.0  # 3,000 against a naive kombu relay's 1,500
    assert EMBEDDED_TO_KOMBU_SQLALCHEMY_TARGET == 3.33  # 1,000 against kombu SQLAlchemy's 300
    assert TARGETS["e2e_rabbitmq_to_naive_ratio"] == RABBITMQ_TO_NAIVE_TARGET
    assert TARGETS["e2e_embedded_to_kombu_sqlalchemy_ratio"] == EMBEDDED_TO_KOMBU_SQLALCHEMY_TARGET
    # the issue's absolute targets stay
    assert TARGETS["e2e_rabbitmq_msgs_per_s"] == 3000.0
    assert TARGETS["e2e_embedded_msgs_per_s"] == 1000.0


def test_the_summary_gives_the_floors_and_ours_over_them() -> None:
    flat = summary(_result(rabbitmq=_section(400.0, 750.0), embedded=_section(900.0, 80.0)))
    assert flat["kombu_naive_msgs_per_s"] == 750.0
    assert flat["e2e_rabbitmq_to_naive_ratio"] == 0.53
    assert flat["kombu_sqlalchemy_msgs_per_s"] == 80.0
    assert flat["e2e_embedded_to_kombu_sqlalchemy_ratio"] == 11.25


def test_every_target_is_reported_met_or_not_by_its_own_figure() -> None:
    # absolute (b) not met but its ratio met; absolute (c) met but its ratio not
    flat = summary(_result(rabbitmq=_section(2000.0, 900.0), embedded=_section(1200.0, 400.0)))
    assert flat["targets_met"] == {
        "pipeline_to_floor_ratio": None,
        "e2e_rabbitmq_msgs_per_s": False,
        "e2e_rabbitmq_to_naive_ratio": True,
        "e2e_embedded_msgs_per_s": True,
        "e2e_embedded_to_kombu_sqlalchemy_ratio": False,
    }


def test_a_ratio_at_its_target_meets_it() -> None:
    flat = summary(_result(rabbitmq=_section(1500.0, 750.0), embedded=_section(333.0, 100.0)))
    assert flat["e2e_rabbitmq_to_naive_ratio"] == 2.0
    assert flat["e2e_embedded_to_kombu_sqlalchemy_ratio"] == 3.33
    assert flat["targets_met"]["e2e_rabbitmq_to_naive_ratio"] is True
    assert flat["targets_met"]["e2e_embedded_to_kombu_sqlalchemy_ratio"] is True


def test_without_a_floor_the_floor_keys_and_their_targets_are_none() -> None:
    flat = summary(_result(rabbitmq=_section(400.0)))
    assert flat["kombu_naive_msgs_per_s"] is None
    assert flat["e2e_rabbitmq_to_naive_ratio"] is None
    assert flat["targets_met"]["e2e_rabbitmq_to_naive_ratio"] is None
    assert flat["targets_met"]["e2e_rabbitmq_msgs_per_s"] is False
    assert flat["kombu_sqlalchemy_msgs_per_s"] is None


@pytest.mark.parametrize(("ours", "floor"), [(None, 1.0), (1.0, None), (1.0, 0.0), (0.0, 1.0)])
def test_a_ratio_with_a_missing_or_zero_side_is_none(ours, floor) -> None:
    assert ratio(ours, floor) is None


def test_the_table_shows_the_floors_and_the_ratios() -> None:
    result = _result(rabbitmq=_section(400.0, 750.0), embedded=_section(900.0))
    out = table({**summary(result), **result})
    (naive,) = [line for line in out.splitlines() if line.startswith("(b) floor")]
    assert "750 msg/s" in naive
    assert "3 x 1000 msgs of 168 B" in naive
    assert "0.53" in naive
    assert "target >= 2.0: NOT met" in naive
    (sqlalchemy,) = [line for line in out.splitlines() if line.startswith("(c) floor")]
    assert "not measured" in sqlalchemy
    assert "target >= 3.33: -" in sqlalchemy


def test_a_floor_is_the_median_of_its_runs() -> None:
    runs = [{"rate": 700.04, "n": 10}, {"rate": 900.0, "n": 10}, {"rate": 750.06, "n": 10}]
    floor = median_floor("kombu-naive", runs, "rate")
    assert floor["kind"] == "kombu-naive"
    assert floor["msgs_per_s"] == 750.1
    assert [r["rate"] for r in floor["runs"]] == [700.0, 900.0, 750.1]
    with pytest.raises(ValueError, match="at least one run"):
        median_floor("kombu-naive", [], "rate")


def test_the_floors_publish_bodies_the_size_of_the_e2e_sources() -> None:
    assert 150 <= BODY_BYTES <= 200  # one test kit decision as JSON
    assert FloorConfig().size == BODY_BYTES


def test_the_floor_goes_first_into_its_section_and_can_be_skipped() -> None:
    order: list[str] = []

    def floor() -> dict[str, Any]:
        order.append("floor")
        return {"msgs_per_s": 1.0}

    def measure() -> dict[str, Any]:
        order.append("measure")
        return {"msgs_per_s": 2.0}

    section = _with_floor("rabbitmq", floor, measure)
    assert order == ["floor", "measure"]
    assert section["msgs_per_s"] == 2.0
    assert section["floor"]["msgs_per_s"] == 1.0
    assert "wall_s" in section["floor"]
    assert "floor" not in _with_floor("rabbitmq", None, measure)
    assert parse_args(["--no-floors"]).no_floors is True
    assert parse_args([]).no_floors is False
