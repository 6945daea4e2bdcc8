"""The case identity code (身份码): FJ + division + year + domain + 8 hex of SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.case_code import CASE_CODE_PATTERN, DOMAINS, CaseCode, make_case_code
from tests.conftest import SPECS, load_items, sample_files

CANONICAL_DOMAINS = ("SC", "HJ", "WJ", "YJ", "YP", "XF", "WL", "NY", "HY", "CG", "JT", "QT")
"""The two-letter codes of canonical.md, "Domains (条线) and their two-letter codes"."""


def expected_case_code(
    division_code: str, year: int, domain: str, source_system: str, source_case_no: str
) -> str:
    """The rule of canonical.md, written out independently of ``make_case_code``."""
    digest = hashlib.sha256(f"{source_system}|{source_case_no}".encode()).hexdigest()
    return "FJ" + division_code + str(year) + domain + digest[:8].upper()


def case_samples() -> list[Any]:
    """One param per ``enforcement.case.v1`` message in the systems' ``*.expected.json``."""
    return [
        pytest.param(item, id=f"{path.parts[-3]}/{path.name}[{index}]")
        for path in sample_files("*.expected.json")
        for index, item in enumerate(load_items(path))
        if item.get("schema") == "enforcement.case.v1"
    ]


CASE_SAMPLES = case_samples()


def test_the_rule_gives_the_code_written_out_by_hand() -> None:
    source = "沙卫立〔2025〕17号"
    digest = hashlib.sha256(("health|" + source).encode("utf-8")).hexdigest()
    assert digest[:8].upper() == "DFA14A67"  # the code carried by health/cases_page-1 [0]
    code = make_case_code(
        division_code="350405",
        year=2025,
        domain="WJ",
        source_system="health",
        source_case_no=source,
    )
    assert code == "FJ3504052025WJDFA14A67"


def test_the_contract_example_has_the_shape_of_a_case_code() -> None:
    example = "FJ3504002024SC1A2B3C4D"
    assert re.fullmatch(CASE_CODE_PATTERN, example)
    assert TypeAdapter(CaseCode).validate_python(example) == example


@pytest.mark.parametrize(
    ("division_code", "year", "domain", "source_system", "source_case_no"),
    [
        pytest.param(
            "350400", 2024, "SC", "market_reg", "明市监处〔2024〕8号", id="a Sanming market case"
        ),
        pytest.param(
            "350128", 2025, "HY", "platform", "平潭海渔立〔2025〕3号", id="a Pingtan fishery case"
        ),
        pytest.param(
            "350427", 2020, "QT", "eco_env", "a|b", id="a case number holding the separator"
        ),
    ],
)
def test_the_case_code_is_fj_division_year_domain_and_the_sha256_prefix(
    division_code: str, year: int, domain: str, source_system: str, source_case_no: str
) -> None:
    code = make_case_code(
        division_code=division_code,
        year=year,
        domain=domain,
        source_system=source_system,
        source_case_no=source_case_no,
    )
    assert code == expected_case_code(division_code, year, domain, source_system, source_case_no)
    assert re.fullmatch(CASE_CODE_PATTERN, code)
    assert TypeAdapter(CaseCode).validate_python(code) == code


@settings(max_examples=200, deadline=None)
@given(
    division_code=st.text("0123456789", min_size=6, max_size=6),
    year=st.integers(min_value=1000, max_value=9999),
    domain=st.sampled_from(CANONICAL_DOMAINS),
    source_system=st.text(min_size=1, max_size=20),
    source_case_no=st.text(min_size=1, max_size=40),
)
def test_any_source_case_gets_the_same_code_every_time(
    division_code: str, year: int, domain: str, source_system: str, source_case_no: str
) -> None:
    def mint() -> str:
        return make_case_code(
            division_code=division_code,
            year=year,
            domain=domain,
            source_system=source_system,
            source_case_no=source_case_no,
        )

    code = mint()
    assert code == mint()
    assert code == expected_case_code(division_code, year, domain, source_system, source_case_no)
    assert re.fullmatch(CASE_CODE_PATTERN, code)


def test_the_domain_table_is_the_one_of_the_contract() -> None:
    assert tuple(DOMAINS) == CANONICAL_DOMAINS


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("XX", id="an unknown two letter code"),
        pytest.param("sc", id="a lower case code"),
        pytest.param("市场监管", id="the Chinese domain name"),
        pytest.param("", id="an empty domain"),
    ],
)
def test_an_unknown_domain_raises_value_error(domain: str) -> None:
    with pytest.raises(ValueError, match="unknown domain code"):
        make_case_code(
            division_code="350400",
            year=2024,
            domain=domain,
            source_system="market_reg",
            source_case_no="1",
        )


@pytest.mark.parametrize(
    ("division_code", "year"),
    [
        pytest.param("35040", 2024, id="a five digit division code"),
        pytest.param("35040A", 2024, id="a division code with a letter"),
        pytest.param("350400", 24, id="a two digit year"),
        pytest.param("350400", 20240, id="a five digit year"),
    ],
)
def test_a_malformed_division_code_or_year_raises_value_error(
    division_code: str, year: int
) -> None:
    with pytest.raises(ValueError, match=r"division code|registration year"):
        make_case_code(
            division_code=division_code,
            year=year,
            domain="SC",
            source_system="market_reg",
            source_case_no="1",
        )


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("FJ3504002024SC1a2b3c4d", id="lower case hex"),
        pytest.param("FJ3504002024SC1A2B3C4", id="seven hex characters"),
        pytest.param("FZ3504002024SC1A2B3C4D", id="a prefix other than FJ"),
    ],
)
def test_the_case_code_type_rejects_a_malformed_code(code: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(CaseCode).validate_python(code)


# --- The systems' samples -------------------------------------------------------------------------


def test_the_specs_hold_case_samples_to_check_against() -> None:
    assert SPECS.is_dir(), f"the shared specs are not at {SPECS}"
    assert len(CASE_SAMPLES) >= 10


# Every enforcement.case.v1 sample, at the time of writing (18 messages from eco_env,
# fire_national, health and market_reg), carries exactly the derived code: none holds a
# case_code kept from its source. Should a sample ever carry a source code, list it here
# explicitly with the reason rather than loosening the comparison.
@pytest.mark.parametrize("message", CASE_SAMPLES)
def test_every_case_sample_carries_the_code_derived_from_its_payload(
    message: dict[str, Any],
) -> None:
    payload = message["payload"]
    year = dt.datetime.fromisoformat(payload["registered_at"]).year
    code = make_case_code(
        division_code=payload["agency"]["division_code"],
        year=year,
        domain=payload["domain"],
        source_system=payload["source_system"],
        source_case_no=payload["source_case_no"],
    )
    assert code == payload["case_code"]
    assert code == message["case_code"]
