"""Case entries (infoType 01, README §3.1): the route from the case feed to ``submit_case``.

The route's filter is ``entry_due`` written in JMESPath (``entry_condition``): the tests keep
the two equal over ``thresholds.csv`` and run the route through the runtime against the
simulated platform."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jmespath
import pytest
import yaml

from adapters.two_laws import SPEC, entry_condition, entry_due
from adapters.two_laws.simulator import PASSWORD, USER_NAME, TwoLawsSimulator
from adapters.two_laws.transforms import thresholds
from runner.project import REPO_ROOT
from tests.adapters.two_laws._feed_route import FeedRun
from tests.adapters.two_laws._support import sample_json

ROUTE = "two_laws-case-entries"
DESTINATION = f"{ROUTE}/two_laws-submit_case"


def _filter() -> str:
    route = yaml.safe_load((REPO_ROOT / "routes" / f"{ROUTE}.yaml").read_text(encoding="utf-8"))
    [step] = route["steps"]
    return str(step["filter"])


def test_the_route_filter_is_the_entry_rule_written_from_thresholds_csv() -> None:
    assert _filter() == entry_condition()


def _probes() -> list[tuple[str | None, str | None]]:
    """Per row of thresholds.csv: no amount, zero, around 80 % and the threshold; and a type
    without a row."""
    found: list[tuple[str | None, str | None]] = [("工业噪声超标排放", "900000.00"), (None, None)]
    for row in thresholds().values():
        found += [(row.violation_type, None), (row.violation_type, "0.00")]
        if row.threshold_yuan is not None:
            near = row.threshold_yuan * Decimal("0.8")
            for amount in (near - Decimal("0.01"), near, row.threshold_yuan, near * 10):
                found.append((row.violation_type, f"{amount:.2f}"))
    return found


@pytest.mark.parametrize(("violation", "amount"), _probes())
def test_the_route_filter_agrees_with_entry_due(violation: str | None, amount: str | None) -> None:
    payload = {"violation_type": violation, "involved_amount_yuan": amount}
    routed = bool(jmespath.search(_filter(), {"payload": payload}))
    assert routed is entry_due(payload)


def _version(status: str, amount: str, number: int) -> dict[str, Any]:
    """The README's case (42 000.00 of 50 000.00) as its source publishes version ``number``."""
    envelope = copy.deepcopy(sample_json("submit_case-1.input.json"))
    envelope["source_message_id"] = f"SCAJ-350500-2024-000156@v{number}"
    envelope["payload"] |= {"status": status, "involved_amount_yuan": amount}
    return dict(envelope)


def _other_case(violation: str, amount: str | None) -> dict[str, Any]:
    envelope = copy.deepcopy(sample_json("submit_case-1.input.json"))
    envelope["source_message_id"] = "SCAJ-350500-2024-000200@v1"
    envelope["case_code"] = envelope["payload"]["case_code"] = "FJ3505002024SC00000200"
    envelope["payload"] |= {
        "source_case_no": "SCAJ-350500-2024-000200",
        "violation_type": violation,
        "involved_amount_yuan": amount,
    }
    return dict(envelope)


@pytest.fixture
def platform() -> Iterator[TwoLawsSimulator]:
    with TwoLawsSimulator() as simulator:
        yield simulator


def test_due_cases_and_their_later_versions_are_entered_others_not(
    tmp_path: Path, platform: TwoLawsSimulator
) -> None:
    config = {
        "endpoint": platform.endpoint,
        "user_name": USER_NAME,
        "password": PASSWORD,
        "org_codes": ["11350500MB0P661250"],
    }
    with FeedRun(tmp_path, SPEC, [ROUTE], config) as run:
        first, later, below, unlisted = run.publish(
            [
                _version("investigating", "42000.00", 7),
                _version("decided", "45000.00", 8),
                _other_case("销售不合格产品", "39999.99"),
                _other_case("工业噪声超标排放", "900000.00"),
            ]
        )
        run.wait(lambda: all(run.events(m, "delivered") for m in (first, later)))
        run.wait(lambda: all(run.destinations(m) for m in (below, unlisted)))
        assert run.destinations(first) == run.destinations(later) == [[DESTINATION]]
        assert run.destinations(below) == run.destinations(unlisted) == [[]]
        assert [r.detail["code"] for m in (first, later) for r in run.events(m, "delivered")] == [
            "0",
            "1",  # 重复提交，已按更新处理: the upsert on sfm took the later version
        ]
        assert run.services.dead_letters.list() == []
    [(sfm, stored)] = platform.submissions.items()
    assert sfm == "FJ3505002024SC7556C67D"
    assert (stored.info_type, stored.times) == ("01", 2)
    assert (stored.values["ajzt"], stored.values["sajz"], stored.values["zsbz"]) == (
        "04",
        "45000.00",
        "2",
    )
