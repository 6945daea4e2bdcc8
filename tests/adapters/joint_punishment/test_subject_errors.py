"""Per-subject errCodes of a query where no subject was answered (README §5.2): S01-S03 settle the
lookup for good (dead-lettered once, with the code and without the id number), S04 asks again."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from adapters.joint_punishment import SPEC
from runner.adapter_api import RawMessage
from runner.engine.lookups import Answer, read_answer, settle
from runner.engine.plan import plan_of
from tests.adapters.joint_punishment.samples import PROJECT, SAMPLES, config

ANSWER = json.loads((SAMPLES / "dishonest_query_response-1.json").read_bytes())
LOOKUP = plan_of(PROJECT, "joint_punishment-dishonest-checks").lookups[0]
ID_NUMBER = "350102198806151233"
VIEW = {"message_id": "01HX0000000000000000000000", "payload": {"id_number": ID_NUMBER}}


def _answer(*codes: str) -> RawMessage:
    answer = copy.deepcopy(ANSWER)
    answer["results"] = [
        {"seq": seq, "errCode": code, "errMsg": "该主体数据"}
        for seq, code in enumerate(codes, start=1)
    ]
    return RawMessage(json.dumps(answer, ensure_ascii=False).encode(), meta={"status": "200"})


def _fate(raw: RawMessage) -> Any:
    def ask() -> Answer:
        return read_answer(SPEC, LOOKUP, raw, config())

    def stamper(_drafts: Any) -> list[Any]:
        raise AssertionError("an answer without results stamps nothing")

    return settle(LOOKUP, VIEW, ask, stamper)


@pytest.mark.parametrize("code", ["S01", "S02", "S03"])
def test_a_permanently_bad_subject_is_refused_with_its_code(code: str):
    fate = _fate(_answer(code))
    assert fate.kind == "dead"
    assert fate.error.code == code
    assert "batch_failed" in str(fate.error)
    assert ID_NUMBER not in str(fate.error)


def test_a_subject_whose_data_is_not_available_yet_is_asked_again():
    fate = _fate(_answer("S04"))
    assert (fate.kind, fate.code) == ("retry", "S04")


def test_s04_wins_over_a_permanent_error_of_another_subject():
    fate = _fate(_answer("S01", "S04"))
    assert (fate.kind, fate.code) == ("retry", "S04")


def test_an_errcode_the_readme_does_not_list_is_refused_with_that_code():
    fate = _fate(_answer("S09"))
    assert (fate.kind, fate.error.code) == ("dead", "S09")


def test_answered_subjects_still_map_beside_a_subject_with_an_errcode():
    answer = copy.deepcopy(ANSWER)
    answer["results"][1] = {"seq": 2, "errCode": "S01", "errMsg": "证件号码校验不通过"}
    raw = RawMessage(json.dumps(answer, ensure_ascii=False).encode(), meta={"status": "200"})
    found = read_answer(SPEC, LOOKUP, raw, config())
    assert [d.source_message_id for d in found.drafts] == ["CX20240305144012000123#1"]
