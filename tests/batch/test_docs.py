"""The ``batch:`` section of docs/configuration.md stays in step with the settings models."""

from __future__ import annotations

import re

import pytest
import yaml

from runner.batch import AirflowSettings, BatchSettings
from runner.project import REPO_ROOT
from runner.settings import Settings

DOC = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def _section() -> str:
    start = DOC.index("## Batch jobs")
    return DOC[start : DOC.index("\n## ", start + 1)]


def _example() -> dict:
    block = re.search(r"```yaml\n(batch:.*?)```", _section(), re.S)
    assert block is not None
    return yaml.safe_load(block[1])


@pytest.mark.parametrize("model", [BatchSettings, AirflowSettings])
def test_every_batch_setting_is_documented(model: type):
    example = _example()["batch"]
    keys = set(example) | set(example["airflow"]) | {"token"}  # token: the commented variant
    assert set(model.model_fields) <= keys


def test_the_documented_example_is_valid_settings():
    data = _example()
    data["batch"]["airflow"]["password"] = "x"
    settings = Settings.model_validate(data)
    assert settings.batch.airflow is not None
    assert settings.batch.airflow.dag_prefix == "ebus_"
    assert settings.batch.retry_delay == 600.0
