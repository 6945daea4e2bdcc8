"""The stage breakdown of benchmark (a): its arithmetic on made-up figures, and one real pass."""

from __future__ import annotations

import pytest

from bench.stages import bounds, main, measure_stages

_US = {
    "floor_parse": 100.0,
    "floor_model": 200.0,
    "hooks": 150.0,
    "parse": 120.0,
    "apply": 620.0,
    "envelope": 80.0,
    "pipeline": 1000.0,
}


def test_rules_are_apply_less_parse_and_validation_and_the_rest_is_interplay() -> None:
    parts = bounds(_US)["pipeline_parts_us"]
    assert parts["rules"] == 300.0  # 620 - 120 - 200
    assert parts["hooks"] == 150.0
    assert parts["envelope"] == 80.0
    assert parts["interplay"] == 1000.0 - (150 + 120 + 300 + 200 + 80)


def test_each_bound_takes_its_stages_out_of_the_pipeline_only() -> None:
    ratio_if = bounds(_US)["ratio_if"]
    assert ratio_if["now"] == 0.3
    assert ratio_if["hooks free"] == round(300 / 850, 3)
    assert ratio_if["rules free"] == round(300 / 700, 3)
    assert ratio_if["hooks and rules free"] == round(300 / 550, 3)
    assert ratio_if["hooks, rules and envelope free"] == round(300 / 470, 3)
    assert ratio_if["only parse and validation left"] == round(300 / 320, 3)


def test_a_stage_measured_below_its_parts_counts_as_zero_not_negative() -> None:
    figures = bounds({**_US, "apply": 250.0})
    assert figures["pipeline_parts_us"]["rules"] == 0.0


def test_every_sample_is_measured_in_every_stage() -> None:
    result = measure_stages(seconds=0.001)
    assert result["samples"] >= 97
    assert set(result["us_per_pass"]) == set(_US)
    assert all(value > 0 for value in result["us_per_pass"].values())
    assert result["ratio_if"]["now"] < result["ratio_if"]["hooks and rules free"]


def test_the_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seconds", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "pipeline / floor ratio" in out
    assert "hooks and rules free" in out


def test_stages_measured_above_the_pipeline_never_give_a_negative_or_infinite_bound() -> None:
    noisy = {**_US, "hooks": 900.0, "apply": 900.0}  # noise: hooks + rules > the pipeline
    ratio_if = bounds(noisy)["ratio_if"]
    assert all(0 < value <= 300 / 320 + 0.001 for value in ratio_if.values())
