"""The transform the credit_fj mappings need that the shared library does not have (yet), listed
in ``SPEC.transforms``; the generic ones they use (``add_years``, ``index_records``, ``uscc``,
``agree``) are in ``runner/mapping/transforms/``.

- ``kind_parts``: one text part per entry of a list of kinds, from templates over the fields of
  an object, joined (README §4.3 ``CF_NR``).
"""

from __future__ import annotations

from string import Template
from typing import Any

from pydantic import Field

from runner.adapter_api import MessageRejected, Params, Transform, define_transform

__all__ = ["TRANSFORMS", "kind_parts"]


# --- kind_parts -------------------------------------------------------------------------------


class KindPartsParams(Params):
    separator: str
    parts: dict[str, str] = Field(default_factory=dict)
    alongside: dict[str, dict[str, str]] = Field(default_factory=dict)
    default: str | None = None


def _part_template(kind: str, kinds: list[Any], params: KindPartsParams) -> str:
    for other, template in params.alongside.get(kind, {}).items():
        if other in kinds:
            return template
    found = params.parts.get(kind, params.default)
    if found is None:
        raise MessageRejected(f"kind '{kind}' has no part template", rule="kind_parts_kind")
    return found


def _fill(template: str, values: dict[str, Any], kind: str) -> str:
    compiled = Template(template)
    for name in compiled.get_identifiers():
        if values.get(name) is None:
            raise MessageRejected(
                f"the part for kind '{kind}' needs {name}, which is missing",
                rule="kind_parts_value",
            )
    return compiled.substitute({k: str(v) for k, v in values.items() if v is not None})


@define_transform("kind_parts", KindPartsParams)
def kind_parts(value: Any, params: KindPartsParams) -> Any:
    """One part per entry of ``kinds`` (in order), joined with ``separator``.

    The input is an object with ``kinds`` (a list of kind ids), optionally ``names`` (the kinds'
    display names, same order) and any other fields. Each part is a ``string.Template`` over
    those fields plus ``$kind`` and ``$name``: ``alongside[kind][other]`` when kind ``other``
    is also in the list, else ``parts[kind]``, else ``default``. A part whose template names a
    missing field rejects the message::

        CF_NR:
          first:
            - kinds: payload.penalty_kinds
              names: {from: payload.penalty_kinds, codes: credit_fj/cflb}
              fine_amount_yuan: payload.fine_amount_yuan
          transform:
            - kind_parts:
                separator: "；"
                parts: {fine: "罚款人民币${fine_amount_yuan}元"}
                alongside: {confiscate_property: {confiscate_gains: "${name}"}}
                default: "${name}"
    """
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("kinds"), list):
        raise MessageRejected("kind_parts needs an object with a list 'kinds'", rule="kind_parts")
    kinds: list[Any] = value["kinds"]
    names = value.get("names") or [None] * len(kinds)
    if len(names) != len(kinds):
        raise MessageRejected("kind_parts: 'names' and 'kinds' differ in length", rule="kind_parts")
    out = []
    for kind, name in zip(kinds, names, strict=True):
        template = _part_template(str(kind), kinds, params)
        out.append(_fill(template, {**value, "kind": kind, "name": name}, str(kind)))
    return params.separator.join(out)


TRANSFORMS: tuple[Transform, ...] = (kind_parts,)
"""The transforms ``SPEC.transforms`` contributes to the credit_fj mappings."""
