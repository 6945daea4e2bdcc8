"""Benchmark (a) measures every inbound sample the contract tests check, none skipped."""

from __future__ import annotations

from bench.pipeline import measure_pipeline
from runner.project import load_project
from runner.sample_facts import wire_samples


def test_the_pipeline_bench_runs_every_inbound_sample_with_its_facts() -> None:
    project = load_project()
    samples = sum(len(wire_samples(system, message)) for system, message in project.inbound)
    result = measure_pipeline(seconds=0.01, project=project)
    assert result["skipped"] == []
    assert result["samples"] == samples
    assert samples >= 97  # 15 systems' samples, signed, manifest and CSV ones included
