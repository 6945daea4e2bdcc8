"""The API simulator keeps the README's rules, so that the poller is tested against them."""

from __future__ import annotations

import codecs
import json
from typing import Any

import httpx
import pytest

from adapters.health.config import TEST_API_KEY
from adapters.health.simulator import HealthApi, serve
from tests.adapters.health.samples import record

HEADERS = {"X-Api-Key": TEST_API_KEY}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _get(url: str, headers: dict[str, str] | None = None, **query: Any) -> httpx.Response:
    return httpx.get(f"{url}/api/supervision/cases", params=query, headers=headers or HEADERS)


@pytest.fixture
def api() -> HealthApi:
    found = HealthApi(per_second=1000)
    for n, name in enumerate(("yuezu_v1", "hengtai_v3", "lumei_v1")):
        found.upsert(record(name, updateTime=1748000000000 + (n // 2) * 1000))
    return found


def test_records_at_or_after_updated_since_come_in_update_time_then_id_order(api: HealthApi):
    with serve(api) as simulator:
        answer = _get(simulator.url, updatedSince=1748000000000, page=0, size=10).json()
    ids = [r["id"] for r in answer["data"]["content"]]
    assert ids == ["1786540012398743553", "1790231845512740865", "1793118836455112706"]
    assert answer["data"] | {"content": None} == {
        "content": None,
        "page": 0,
        "size": 10,
        "totalElements": 3,
        "totalPages": 1,
        "last": True,
    }


def test_the_bound_is_inclusive_and_pages_are_zero_based(api: HealthApi):
    with serve(api) as simulator:
        first = _get(simulator.url, updatedSince=1748000001000, page=0, size=1).json()
        beyond = _get(simulator.url, updatedSince=1748000000000, page=1, size=2).json()
    assert [r["id"] for r in first["data"]["content"]] == ["1793118836455112706"]
    assert [r["id"] for r in beyond["data"]["content"]] == ["1793118836455112706"]
    assert (beyond["data"]["last"], beyond["data"]["totalPages"]) == (True, 2)


@pytest.mark.parametrize(
    "query",
    [
        {"updatedSince": 0, "size": 101},
        {"updatedSince": 0, "size": 0},
        {"page": 0},
        {"updatedSince": "x"},
    ],
    ids=["size above 100", "size 0", "no updatedSince", "updatedSince not a number"],
)
def test_bad_parameters_are_400_40001(api: HealthApi, query: dict[str, Any]):
    with serve(api) as simulator:
        answer = _get(simulator.url, **query)
    assert (answer.status_code, answer.json()["code"]) == (400, 40001)


def test_a_wrong_key_is_401_and_an_unregistered_certificate_403(api: HealthApi):
    api.unregistered_keys = frozenset({"wj-test-ffffffffffffffffffffffff"})
    api.api_keys = api.api_keys | api.unregistered_keys
    with serve(api) as simulator:
        wrong = _get(simulator.url, {"X-Api-Key": "nope"}, updatedSince=0)
        unregistered = _get(
            simulator.url, {"X-Api-Key": "wj-test-ffffffffffffffffffffffff"}, updatedSince=0
        )
    assert (wrong.status_code, wrong.json()["code"]) == (401, 40101)
    assert (unregistered.status_code, unregistered.json()["code"]) == (403, 40301)


def test_more_than_five_requests_a_second_are_429_with_retry_after():
    clock = Clock()
    api = HealthApi(clock=clock)
    with serve(api) as simulator:
        codes = [_get(simulator.url, updatedSince=0).status_code for _ in range(6)]
        limited = _get(simulator.url, updatedSince=0)
        clock.now += 1.0
        again = _get(simulator.url, updatedSince=0)
    assert codes == [200] * 5 + [429]
    assert (limited.json()["code"], limited.headers["retry-after"]) == (42901, "1")
    assert again.status_code == 200


def test_a_change_is_a_new_version_and_a_stale_one_is_served_once(api: HealthApi):
    old = record("yuezu_v1")
    newer = api.change(old["id"], 1748000009000, status="DECIDED")
    api.stale_once(old)
    with serve(api) as simulator:
        stale = _get(simulator.url, updatedSince=1748000005000).json()["data"]["content"]
        fresh = _get(simulator.url, updatedSince=1748000005000).json()["data"]["content"]
    assert newer["version"] == 2
    assert [r["version"] for r in stale] == [1]
    assert [r["version"] for r in fresh] == [2]


def test_the_gateway_cache_answers_with_a_bom(api: HealthApi):
    api.bom = True
    with serve(api) as simulator:
        body = _get(simulator.url, updatedSince=0).content
    assert body.startswith(codecs.BOM_UTF8)
    assert json.loads(body[3:])["code"] == 200
