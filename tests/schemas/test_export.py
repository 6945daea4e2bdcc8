"""The exported JSON Schemas and AsyncAPI document describe the canonical messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from schemas import PAYLOADS
from schemas.export import export_all
from tests.conftest import load_items, sample_files

STAMP = {
    "message_id": "01JTZ6Q8M4V2A7K9C1E3G5H7J9",
    "causation_id": None,
    "occurred_at": "2025-05-06T09:58:00+08:00",
    "received_at": "2025-05-06T09:58:01+08:00",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export")
    export_all(out, "test")
    return out


def _validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_bytes())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _schema_file(root: Path, item: dict[str, Any], *, draft: bool) -> Path:
    if "outcome" in item:
        return root / "json-schema" / "delivery_outcome.json"
    return root / "json-schema" / ("drafts" if draft else "") / f"{item['schema']}.json"


def test_export_writes_one_envelope_and_one_draft_per_schema_and_asyncapi(exported: Path):
    names = {p.name for p in (exported / "json-schema").glob("*.json")}
    assert names == {f"{n}.json" for n in PAYLOADS} | {"delivery_outcome.json"}
    assert len(list((exported / "json-schema" / "drafts").glob("*.json"))) == len(PAYLOADS)
    assert (exported / "asyncapi.yaml").is_file()


@pytest.mark.parametrize(
    "path", sample_files("*.expected.json"), ids=lambda p: f"{p.parts[-3]}/{p.name}"
)
def test_exported_json_schema_validates_the_expected_sample(exported: Path, path: Path):
    for item in load_items(path):
        _validator(_schema_file(exported, item, draft=True)).validate(item)
        if "schema" in item:
            stamped = {**item, **STAMP}
            _validator(_schema_file(exported, item, draft=False)).validate(stamped)


def test_the_published_envelope_schema_requires_the_stamped_fields(exported: Path):
    item = load_items(sample_files("get_penalty_decision_response-1.expected.json")[0])[0]
    validator = _validator(_schema_file(exported, item, draft=False))
    with pytest.raises(jsonschema.ValidationError, match="message_id"):
        validator.validate(item)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("payload", "party", "uscc"), "lower-case", id="a malformed uscc"),
        pytest.param(("payload", "fine_amount_yuan"), "38000", id="money without two decimals"),
        pytest.param(("payload", "decided_at"), "2025-04-18T00:00:00Z", id="a time not in +08:00"),
        pytest.param(("payload", "unexpected"), 1, id="an unknown field"),
        pytest.param(("classification",), "L5", id="an unknown class"),
    ],
)
def test_exported_json_schema_rejects_what_the_contract_forbids(
    exported: Path, path: tuple[str, ...], value: object
):
    item = load_items(sample_files("get_penalty_decision_response-1.expected.json")[0])[0]
    node = item
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        _validator(_schema_file(exported, item, draft=True)).validate(item)


def test_data_classes_are_in_the_exported_schema(exported: Path):
    text = (exported / "json-schema" / "enforcement.clue.v1.json").read_text(encoding="utf-8")
    assert '"x-data-class": "L3"' in text


def test_asyncapi_has_a_channel_per_schema_whose_references_resolve(exported: Path):
    doc = yaml.safe_load((exported / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert doc["asyncapi"].startswith("3.")
    assert {c["address"] for c in doc["channels"].values()} == set(PAYLOADS)

    def resolve(ref: str) -> Any:
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    every = refs(doc)
    assert len(every) > len(PAYLOADS) * 3
    for ref in every:
        assert resolve(ref) is not None, ref
    for operation in doc["operations"].values():
        assert operation["action"] == "receive"
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft7Validator.check_schema(schema)


def test_asyncapi_message_payload_validates_a_stamped_sample(exported: Path):
    doc = yaml.safe_load((exported / "asyncapi.yaml").read_text(encoding="utf-8"))
    item = load_items(sample_files("get_penalty_decision_response-1.expected.json")[0])[0]
    message = doc["components"]["messages"]["penalty_decision_v1"]
    schema = {**message["payload"], "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate({**item, **STAMP})
