"""The split and enrich route steps without a bus: the loader's checks (file, line, key, hint),
the compiled plan (parts, their ids, choices carried past a lookup), and route config tests
that answer lookups from recordings — a merge from the 信用福建 register, a lookup that is down
or finds nothing, a merge that would make an invalid envelope."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.configtest import run_config_tests
from runner.engine.plan import plan_of
from runner.mapping.rules import Issue
from runner.project import REPO_ROOT, Project, load_project
from tests.conftest import SPECS

SYSTEMS = ("joint_punishment", "credit_fj")
CREDIT = SPECS / "systems" / "credit_fj" / "samples"

CHECKS = """\
id: checks
from: {feed: enforcement.case.v1}
steps:
  - split: payload.parties
  - enrich:
      name: dishonest-query
      system: joint_punishment
      message: dishonest_query
      input: "{request_id: message_id, agency: payload.agency, scene: 'penalty',
               subjects: [{party: payload.parties[0], case_code: case_code}]}"
      emit: enforcement.dishonest_check.v1
to:
  - feed: enforcement.dishonest_check.v1
"""

REGISTER = """\
id: register
from: {feed: enforcement.penalty_decision.v1}
steps:
  - choice:
      - {when: "payload.party.kind == 'natural_person'", to: [none]}
      - {otherwise: true, to: [credit_fj-penalty_push]}
  - enrich:
      name: register
      system: credit_fj
      message: subject_lookup_request
      input: "{uscc: payload.party.uscc}"
      merge:
        payload.party.legal_representative: payload.party.legal_representative
        payload.party.address: payload.party.address
      on_unavailable: pass
to:
  - {system: credit_fj, message: penalty_push}
  - {system: credit_fj, message: penalty_push, name: none}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A config root with the mappings and code tables of joint_punishment and credit_fj."""
    for system in SYSTEMS:  # copied: the code table loader does not follow symbolic links
        shutil.copytree(REPO_ROOT / "mappings" / system, tmp_path / "mappings" / system)
        codes = Path("mappings", "codes", system)
        shutil.copytree(REPO_ROOT / codes, tmp_path / codes)
    (tmp_path / "routes").mkdir()
    return tmp_path


@pytest.fixture
def load(root: Path) -> Callable[[str], Project]:
    def load_routes(*texts: str) -> Project:
        for text in texts:
            route = yaml.safe_load(text)["id"]
            (root / "routes" / f"{route}.yaml").write_text(text, encoding="utf-8")
        return load_project(root)

    return load_routes


def _only(issues: list[Issue]) -> Issue:
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


# --- the loader -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "code", "key", "line", "hint"),
    [
        pytest.param(
            "system: joint_punishment",
            "system: joint_punishmnt",
            "unknown_system",
            "system",
            7,
            "joint_punishment",
            id="an unknown lookup system is named with a suggestion",
        ),
        pytest.param(
            "message: dishonest_query",
            "message: dishonest_qurey",
            "unknown_message",
            "message",
            8,
            "dishonest_query",
            id="an unknown lookup message is named with a suggestion",
        ),
        pytest.param(
            "message: dishonest_query",
            "message: feedback",
            "not_a_lookup",
            "message",
            8,
            "",
            id="a call answered by a delivery outcome is not a lookup",
        ),
        pytest.param(
            "emit: enforcement.dishonest_check.v1",
            "emit: enforcement.credit_subject.v1",
            "wrong_schema",
            "emit",
            11,
            "enforcement.dishonest_check.v1",
            id="emit names the schema the answer maps to",
        ),
        pytest.param(
            "split: payload.parties",
            "split: payload.partys",
            "unknown_field",
            "split",
            4,
            "parties",
            id="a split names a field of the route's schema",
        ),
        pytest.param(
            "      emit: enforcement",
            "      emitt: enforcement",
            "extra_forbidden",
            "emitt",
            11,
            "emit",
            id="an unknown enrich key is named with its line and a suggestion",
        ),
        pytest.param(
            "  - feed: enforcement.dishonest_check.v1",
            "  - feed: enforcement.case_transfer.v1",
            "wrong_feed",
            "feed",
            13,
            "enforcement.dishonest_check.v1",
            id="after an emitting lookup the route carries the answer's schema",
        ),
    ],
)
def test_the_loader_names_file_line_key_and_a_hint(
    load: Callable[[str], Project], old: str, new: str, code: str, key: str, line: int, hint: str
) -> None:
    assert old in CHECKS
    project = load(CHECKS.replace(old, new))
    issue = _only(project.issues)
    assert (issue.code, issue.key) == (code, key), str(issue)
    assert issue.where.endswith(f"routes/checks.yaml:{line}"), str(issue)
    assert hint in issue.hint
    assert "checks" not in project.routes


@pytest.mark.parametrize(
    ("old", "new", "code", "message"),
    [
        pytest.param(
            '      input: "{uscc: payload.party.uscc}"\n',
            "",
            "wrong_schema",
            "renders subject_lookup",
            id="a lookup whose mapping renders an adapter input needs 'input'",
        ),
        pytest.param(
            "payload.party.address: payload.party.address",
            "payload.party.adress: payload.party.address",
            "unknown_field",
            "no field 'adress'",
            id="merge writes only into fields of the route's schema",
        ),
        pytest.param(
            "payload.party.address: payload.party.address",
            "payload.legal_basis.law_name: payload.party.address",
            "unknown_field",
            "not an object a step can write into",
            id="merge never writes inside a list",
        ),
        pytest.param(
            "payload.party.address: payload.party.address",
            "classification: payload.party.address",
            "value_error",
            "only payload fields",
            id="merge never writes what the bus stamps or computes",
        ),
        pytest.param(
            "      on_unavailable: pass\n",
            "      on_unavailable: pass\n      emit: enforcement.credit_subject.v1\n",
            "value_error",
            "either emits the answer or merges it",
            id="a lookup either emits or merges",
        ),
        pytest.param(
            "      name: register",
            "      name: none",
            "value_error",
            "named twice",
            id="a lookup and a destination never share a name",
        ),
    ],
)
def test_the_loader_refuses_lookups_that_cannot_run(
    load: Callable[[str], Project], old: str, new: str, code: str, message: str
) -> None:
    assert old in REGISTER
    project = load(REGISTER.replace(old, new))
    issue = _only(project.issues)
    assert issue.code == code, str(issue)
    assert message in issue.message
    assert "register" not in project.routes


def test_a_missing_key_is_named_with_the_line_of_its_step(
    load: Callable[[str], Project],
) -> None:
    issue = _only(load(CHECKS.replace("      system: joint_punishment\n", "")).issues)
    assert (issue.code, issue.key) == ("missing", "system")
    assert issue.where.endswith("routes/checks.yaml:6")


def test_an_emitting_lookup_cannot_pass_messages_on_unenriched(
    load: Callable[[str], Project],
) -> None:
    project = load(CHECKS.replace("emit:", "on_unavailable: pass\n      emit:"))
    assert "nothing to pass on" in _only(project.issues).message


def test_the_shipped_routes_with_steps_load_without_a_problem() -> None:
    project = load_project()
    assert [str(i) for i in project.issues] == []
    steps = {type(s).__name__ for s in project.routes["joint_punishment-dishonest-checks"].steps}
    assert steps == {"FilterStep", "SplitStep", "EnrichStep"}


# --- the plan ---------------------------------------------------------------------------------


def _case() -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load(
        (REPO_ROOT / "routes" / "joint_punishment-dishonest-checks.test.yaml").read_text(
            encoding="utf-8"
        )
    )["cases"][0]["envelope"]
    return case | {
        "message_id": "01HR8ZK3Q4M5N6P7R8S9T0V1W2",
        "causation_id": None,
        "occurred_at": "2024-03-05T10:15:00+08:00",
        "received_at": "2024-03-05T10:15:00+08:00",
    }


def test_a_split_makes_one_valid_envelope_per_item_with_ids_that_never_change(
    load: Callable[[str], Project],
) -> None:
    plan = plan_of(load(CHECKS), "checks")
    case = _case()
    parts = plan.run(case)
    assert len(parts) == 3
    assert [len(p.view["payload"]["parties"]) for p in parts] == [1, 1, 1]
    assert [p.view["source_message_id"] for p in parts] == [
        f"{case['source_message_id']}#part{n}" for n in (1, 2, 3)
    ]
    assert {p.view["causation_id"] for p in parts} == {case["message_id"]}
    assert [p.view["classification"] for p in parts] == ["L2", "L3", "L2"]  # computed again
    assert all(p.lookup is not None and p.lookup.key == "dishonest-query" for p in parts)
    ids = [p.view["message_id"] for p in parts]
    assert len(set(ids)) == 3
    assert all(i[:10] == case["message_id"][:10] for i in ids)  # the whole message's time
    assert [p.view["message_id"] for p in plan.run(copy.deepcopy(case))] == ids


def test_a_part_that_is_not_a_valid_envelope_is_refused_alone(
    load: Callable[[str], Project],
) -> None:
    case = _case()
    case["payload"]["parties"][0]["uscc"] = "91350100MA2Y7K3F62"  # fails GB 32100
    results = plan_of(load(CHECKS), "checks").run(case)
    refused = [r for r in results if r.rejected is not None]
    assert len(refused) == 1
    assert refused[0].rejected is not None
    assert (refused[0].rejected.rule, refused[0].rejected.field) == (
        "uscc_check",
        "payload.parties[0].uscc",
    )
    assert "split part 1 of 3" in refused[0].rejected.reason
    assert len(results) == 3


# --- route config tests with recorded answers ---------------------------------------------------


def _penalty(**party: Any) -> dict[str, Any]:
    data = json.loads((CREDIT / "penalty_push-1.input.json").read_bytes())[0]
    data["payload"]["party"] |= party
    data["classification"] = "L2"
    return dict(data)


def _outputs(root: Path, project: Project, cases: list[dict[str, Any]]) -> list[tuple[bool, str]]:
    path = root / "routes" / "register.test.yaml"
    path.write_text(yaml.safe_dump({"cases": cases}, allow_unicode=True), encoding="utf-8")
    return [(r.ok, r.detail) for r in run_config_tests(project, under=path)]


def test_a_merge_fills_fields_from_the_register_and_the_choice_still_holds(
    root: Path, load: Callable[[str], Project]
) -> None:
    project = load(REGISTER)
    envelope = _penalty(legal_representative=None, address=None)
    merged = copy.deepcopy(envelope)
    merged["payload"]["party"]["legal_representative"] = "陈建华"
    merged["payload"]["party"]["address"] = "福建省福州市仓山区盖山镇齐安路669号"
    expected = [{"to": ["credit_fj-penalty_push"], "envelope": merged}]
    answer = {"answer_file": str(CREDIT / "subject_lookup_response-1.json")}
    recorded = answer | {"request": '{"uscc":"91350100MA2Y7K3F61"}'}
    results = _outputs(
        root,
        project,
        [
            {
                "name": "merged",
                "envelope": envelope,
                "lookups": {"register": recorded},
                "expect_outputs": expected,
            },
            {
                "name": "a wrong expectation fails",
                "envelope": envelope,
                "lookups": {"register": answer},
                "expect_outputs": [{"to": [], "envelope": envelope}],
            },
        ],
    )
    assert results[0] == (True, "")
    assert results[1][0] is False
    assert "陈建华" in results[1][1]  # the diff shows what the merge produced


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        pytest.param(
            {"down": True},
            "unenriched",
            id="a lookup system that does not answer lets the message pass unenriched",
        ),
        pytest.param(
            {"answer_file": str(CREDIT / "subject_lookup_response-3.json")},
            "unenriched",
            id="a subject the register does not know passes unenriched",
        ),
        pytest.param(
            {"answer_file": str(CREDIT / "subject_lookup_response-2.json")},
            {"rule": "agree", "field": "payload.party.uscc"},
            id="an answer about another subject is refused, never merged",
        ),
        pytest.param(
            {"answer": {"code": "1004", "msg": "AppKey 无效", "requestId": "x", "data": None}},
            {"rule": "1004", "field": None},
            id="a lookup the system refuses is dead-lettered with its code",
        ),
    ],
)
def test_what_becomes_of_a_message_whose_lookup_fails(
    root: Path, load: Callable[[str], Project], recorded: dict[str, Any], expected: Any
) -> None:
    project = load(REGISTER)
    envelope = _penalty(legal_representative=None)
    plan = plan_of(project, "register")
    assert plan.lookups[0].spec.on_unavailable == "pass"
    if expected == "unenriched":
        outputs = [
            {"to": ["credit_fj-penalty_push"], "envelope": envelope, "unenriched": ["register"]}
        ]
    else:
        outputs = [{"dead_letter": expected}]
    case = {"name": "x", "envelope": envelope, "lookups": {"register": recorded}}
    assert _outputs(root, project, [case | {"expect_outputs": outputs}]) == [(True, "")]


def test_a_merge_that_breaks_the_canonical_contract_is_dead_lettered(
    root: Path, load: Callable[[str], Project]
) -> None:
    project = load(
        REGISTER.replace(
            "payload.party.address: payload.party.address", "payload.party.uscc: payload.party.name"
        )
    )
    case = {
        "name": "x",
        "envelope": _penalty(),
        "lookups": {"register": {"answer_file": str(CREDIT / "subject_lookup_response-1.json")}},
        "expect_outputs": [{"dead_letter": {"rule": "uscc_length", "field": "payload.party.uscc"}}],
    }
    assert _outputs(root, project, [case]) == [(True, "")]


def test_a_lookup_a_case_does_not_record_is_an_error_of_the_case(
    root: Path, load: Callable[[str], Project]
) -> None:
    project = load(REGISTER)
    [(ok, detail)] = _outputs(root, project, [{"name": "x", "envelope": _penalty()}])
    assert not ok
    assert "no recorded answer for lookup 'register'" in detail
