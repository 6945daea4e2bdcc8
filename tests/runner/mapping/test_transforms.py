"""The shared transforms that mappings of any system use: identifiers, checks, numbers and money,
dates, objects and lists, and how their parameters are validated (a bad one is a lint error)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.errors import MessageRejected
from runner.mapping.transforms import TRANSFORMS, get_transform, validate_params
from schemas.timeutil import SHANGHAI

UTC = dt.UTC


def apply(name: str, value: Any, params: Any = None) -> Any:
    """Run transform ``name`` on ``value`` with ``params`` as YAML would give them."""
    transform = get_transform(name)
    return transform.fn(value, validate_params(transform, params))


def refusal(name: str, value: Any, params: Any = None) -> MessageRejected:
    """The rejection transform ``name`` raises for ``value``."""
    with pytest.raises(MessageRejected) as caught:
        apply(name, value, params)
    return caught.value


def test_every_shared_transform_documents_itself_with_a_docstring_and_its_parameters():
    undocumented = [name for name, t in TRANSFORMS.items() if not t.doc]
    assert undocumented == []
    for transform in TRANSFORMS.values():
        assert transform.params.__doc__, transform.name


def test_ebus_transforms_lists_the_shared_transforms_with_their_parameters():
    result = CliRunner().invoke(app, ["transforms"])
    assert result.exit_code == 0
    listed = result.stdout
    for name in ("uscc", "matches", "strict_time", "add_working_days", "yuan_text", "count"):
        assert name in listed
    assert "pattern*" in listed  # the primary parameter is marked


@pytest.mark.parametrize(
    "name", sorted(TRANSFORMS), ids=lambda name: f"{name} lets an absent value through"
)
def test_absent_stays_absent_or_gets_its_defined_value(name: str):
    with_value = {"default": "x", "code_or_default": "99", "count": None}
    params = {
        "code_or_default": {"values": {}, "default": "99"},
        "count": {"min": 0},
        "default": "x",
        "first_chars": 2,
        "pair": {"pattern": ":", "keys": ["a", "b"]},
        "join": ",",
        "split": ",",
        "strip_prefix": "x",
        "datetime": ["%Y"],
        "date": ["%Y"],
        "end_of_day_plus": 1,
        "plus_hours": 1,
        "matches": "x",
        "regex_group": "x",
        "format_time": "%Y",
        "omit_nulls": ["a"],
        "number_items": "seq",
        "zero_pad": 2,
        "max_places": 2,
        "trailing_parenthesis": "before",
    }.get(name)
    expected = {"split": [], "null_as_empty": "", "count": []}.get(name, with_value.get(name))
    assert apply(name, None, params) == expected


# --- identifiers and codes --------------------------------------------------------------------


def test_uscc_folds_and_checks_a_code():
    assert apply("uscc", "９１３５０１００ma2y7k3f61") == "91350100MA2Y7K3F61"
    error = refusal("uscc", "91350100MA2Y7K3F62")
    assert (error.rule, error.field) == ("uscc_check", None)


def test_uscc_names_the_wire_field_it_checks_and_refuses_the_placeholder_unless_allowed():
    error = refusal("uscc", "91350100MA2Y7K3F62", "JCDXDM")
    assert (error.rule, error.field) == ("uscc_check", "JCDXDM")
    assert refusal("uscc", "00000000000000000X").rule == "uscc_placeholder"
    placeholder = apply("uscc", "00000000000000000X", {"allow_placeholder": True})
    assert placeholder == "00000000000000000X"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1793118836455112706, "1793118836455112706", id="a JSON integer, exactly"),
        pytest.param(" 42 ", "42", id="digits in text, trimmed"),
    ],
)
def test_digits_id_keeps_an_id_of_digits_as_text(value: Any, expected: str):
    assert apply("digits_id", value) == expected


@pytest.mark.parametrize(
    "value", ["1793118836455112706.0", "12345678901234567890", True, 1.5, "", "a1"]
)
def test_digits_id_refuses_anything_but_1_to_19_digits(value: Any):
    assert refusal("digits_id", value).rule == "id_format"


def test_division_code_takes_six_digits_or_the_first_six_of_a_statistical_code():
    assert apply("division_code", "350104") == "350104"
    assert apply("division_code", "350104003000") == "350104"
    assert refusal("division_code", "35010").rule == "division_code_format"


def test_zero_pad_restores_the_leading_zeros_of_a_numeric_code_only():
    assert apply("zero_pad", 1, 2) == "01"
    assert apply("zero_pad", "123", 2) == "123"
    assert apply("zero_pad", "x", 2) == "x"
    assert apply("zero_pad", "１", 2) == "１"  # not ASCII: the code table refuses it


def test_code_or_default_looks_up_a_value_and_falls_back_for_any_other():
    params = {"values": {"旅行社条例": "09"}, "default": "99"}
    assert apply("code_or_default", " 旅行社条例 ", params) == "09"
    assert apply("code_or_default", "其他法", params) == "99"


def test_sha256_prefix_is_the_first_hex_characters_of_the_digest():
    assert apply("sha256_prefix", "abc", 8) == "ba7816bf"
    assert len(apply("sha256_prefix", "abc")) == 32


# --- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["null", "NULL", "Null", "nUlL", "", "  ", "\u3000"])
def test_null_any_case_makes_blank_and_the_word_null_absent(word: str):
    assert apply("null_any_case", word) is None


def test_null_any_case_trims_other_text_and_keeps_other_types():
    assert apply("null_any_case", " 福州\u3000") == "福州"
    assert apply("null_any_case", "nullable") == "nullable"
    assert apply("null_any_case", 0) == 0


def test_null_words_compare_case_insensitively_only_when_asked():
    assert apply("null_words", "NONE", ["none"]) == "NONE"
    assert apply("null_words", "NONE", {"words": ["none"], "case_insensitive": True}) is None
    assert apply("null_words", "None") is None


def test_first_chars_and_lower():
    assert apply("first_chars", "350322000000", 6) == "350322"
    assert apply("lower", "ABCDEF") == "abcdef"
    assert apply("lower", 12) == 12


@pytest.mark.parametrize(
    ("part", "expected"),
    [("before", "立案告知书"), ("inside", "厦公(环)立告字〔2024〕31号")],
)
def test_trailing_parenthesis_splits_off_a_trailing_full_width_parenthesis(part, expected):
    assert (
        apply("trailing_parenthesis", "立案告知书（厦公(环)立告字〔2024〕31号）", part) == expected
    )


def test_trailing_parenthesis_without_one_is_all_before_and_nothing_inside():
    assert apply("trailing_parenthesis", "立案告知书", "before") == "立案告知书"
    assert apply("trailing_parenthesis", "立案告知书", "inside") is None


# --- checks -----------------------------------------------------------------------------------


def test_matches_passes_a_whole_match_and_gives_a_number_as_its_digits():
    assert apply("matches", "GD202503140001123", "GD[0-9]{15}") == "GD202503140001123"
    assert apply("matches", 350100000000, r"\d{12}") == "350100000000"


@pytest.mark.parametrize("value", ["GD20250314000112", "xGD202503140001123", True, {"a": 1}])
def test_matches_refuses_naming_the_pattern_and_never_the_value(value: Any):
    error = refusal("matches", value, "GD[0-9]{15}")
    assert error.rule == "pattern"
    assert "GD[0-9]{15}" in error.reason
    assert "2025" not in error.reason


def test_matches_carries_the_named_rule():
    params = {"pattern": r"\d{11}", "rule": "certificate_no_format"}
    assert refusal("matches", "1234", params).rule == "certificate_no_format"


def test_regex_group_gives_the_first_group_or_the_whole_match_or_a_named_group():
    assert apply("regex_group", "T-1:v12", r":v(\d+)$") == "12"
    assert apply("regex_group", "T-1:v12", r"v\d+") == "v12"
    assert apply("regex_group", "A1-B2", {"pattern": r"(\w)(\d)-(\w)", "group": 2}) == "1"
    assert refusal("regex_group", "T-1", r":v(\d+)$").rule == "pattern"


@pytest.mark.parametrize("name", ["matches", "regex_group"])
def test_a_pattern_that_does_not_compile_is_a_parameter_error(name: str):
    with pytest.raises(ValueError, match="not a regular expression"):
        validate_params(get_transform(name), "([0-9]")


def test_length_passes_text_within_the_bounds_and_refuses_any_other():
    assert apply("length", "x" * 10, {"min": 10, "max": 20}) == "x" * 10
    assert refusal("length", "x" * 9, {"min": 10, "max": 20}).rule == "length"
    assert refusal("length", "x" * 501, {"max": 500}).reason == "501 characters; 0..500 are allowed"


def test_count_passes_a_list_within_the_bounds_and_counts_null_as_none():
    assert apply("count", [1, 2], {"min": 2}) == [1, 2]
    assert refusal("count", [1], {"min": 2}).rule == "count"
    assert refusal("count", None, {"min": 1}).rule == "count"
    assert refusal("count", list(range(51)), {"min": 1, "max": 50}).rule == "count"
    assert refusal("count", "ab", {"min": 1}).rule == "count"


def test_non_empty_makes_an_empty_list_absent():
    assert apply("non_empty", []) is None
    assert apply("non_empty", [1]) == [1]


def test_strict_boolean_keeps_booleans_and_refuses_text():
    assert apply("strict_boolean", False) is False
    assert refusal("strict_boolean", "true").rule == "boolean_format"


# --- numbers and money ------------------------------------------------------------------------


def test_whole_number_checks_the_range_and_takes_digits_only_when_asked():
    assert apply("whole_number", 10, {"min": 1, "max": 60}) == 10
    assert apply("whole_number", "10", {"text": True}) == 10
    assert refusal("whole_number", "10").rule == "whole_number"
    assert refusal("whole_number", True).rule == "whole_number"
    assert refusal("whole_number", 61, {"max": 60}).rule == "whole_number_range"
    assert refusal("whole_number", 0, {"min": 1}).rule == "whole_number_range"


def test_seconds_reads_a_retry_after_in_whole_seconds_only():
    assert apply("seconds", " 30 ") == 30
    assert apply("seconds", "Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_max_places_passes_an_exact_decimal_and_refuses_more_places():
    assert apply("max_places", "1.234567", 6) == Decimal("1.234567")
    assert refusal("max_places", Decimal("1.2345678"), 6).rule == "money_precision"
    assert refusal("max_places", "abc", 6).rule == "money_format"


def test_yuan_to_fen_is_exact_and_refuses_a_fraction_of_a_fen():
    assert apply("yuan_to_fen", "30000.00") == 3000000
    assert apply("yuan_to_fen", Decimal("0.01")) == 1
    assert refusal("yuan_to_fen", "0.001").rule == "money_precision"


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("50,000.00", "50000.00"),
        ("50,000", "50000.00"),
        ("1,180.50元", "1180.50"),
        ("５，０００．００元", "5000.00"),
        ("1,234,567.8", "1234567.80"),
        ("720", "720.00"),
        ("0", "0.00"),
    ],
)
def test_yuan_text_reads_amounts_as_people_type_them_exactly(text: str, yuan: str):
    assert apply("yuan_text", text) == Decimal(yuan)


@pytest.mark.parametrize(
    "text", ["50,000.005", "-500", "+500", "5万", "5万元", "12,60.00", "1,2345", "abc", "1.", ""]
)
def test_yuan_text_refuses_amounts_no_one_should_type(text: str):
    assert refusal("yuan_text", text).rule == "money_format"


def test_figures_text_lists_each_figure_with_its_threshold():
    figures = {"a": "5.60", "threshold_a": "1.00", "b": "2"}
    assert apply("figures_text", figures) == "a=5.60/1.00;b=2/"
    assert apply("figures_text", {}) is None
    assert refusal("figures_text", ["a"]).rule == "figures_input"


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "years", "expected"),
    [
        pytest.param(dt.date(2024, 3, 4), 1, dt.date(2025, 3, 4), id="a date"),
        pytest.param(dt.date(2024, 2, 29), 1, dt.date(2025, 2, 28), id="29 Feb in a common year"),
        pytest.param(dt.date(2024, 2, 29), 4, dt.date(2028, 2, 29), id="29 Feb in a leap year"),
        pytest.param("2024-02-29", 1, dt.date(2025, 2, 28), id="ISO date text"),
        pytest.param("2023-12-31T20:00:00+00:00", 1, dt.date(2025, 1, 1), id="time in Beijing"),
    ],
)
def test_add_years_keeps_month_and_day(value: Any, years: int, expected: dt.date):
    assert apply("add_years", value, years) == expected


def test_add_years_refuses_what_is_not_a_date():
    error = refusal("add_years", "2024/03/04", 1)
    assert (error.rule, "not an ISO 8601 date" in error.reason) == ("add_years_input", True)


def test_end_of_day_plus_does_not_count_the_day_of_the_event():
    signed = dt.datetime(2025, 5, 6, 15, 20, tzinfo=SHANGHAI)
    due = dt.datetime(2025, 5, 9, 23, 59, 59, tzinfo=SHANGHAI)
    assert apply("end_of_day_plus", signed, 3) == due
    assert apply("end_of_day_plus", "2025-05-06T23:30:00", 3) == due  # naive: Beijing time
    assert apply("end_of_day_plus", dt.datetime(2025, 5, 6, 16, 0, tzinfo=UTC), 3) == due + (
        dt.timedelta(days=1)  # 00:00 on the 7th in Beijing
    )


def test_plus_hours_adds_wall_clock_hours_in_beijing_time():
    received = dt.datetime(2025, 5, 6, 15, 20, tzinfo=SHANGHAI)
    assert apply("plus_hours", received, 24) == received + dt.timedelta(hours=24)
    assert apply("plus_hours", dt.date(2025, 5, 6), 1.5) == dt.datetime(
        2025, 5, 6, 1, 30, tzinfo=SHANGHAI
    )
    assert refusal("plus_hours", "tomorrow", 1).rule == "plus_hours"


def test_working_days_skip_weekends_and_keep_the_clock_time():
    friday = dt.datetime(2025, 3, 14, 22, 15, 9, tzinfo=SHANGHAI)
    due = apply("add_working_days", {"at": friday, "days": 1})
    assert due == dt.datetime(2025, 3, 17, 22, 15, 9, tzinfo=SHANGHAI)
    saturday = dt.datetime(2025, 3, 15, 10, 2, 44, tzinfo=SHANGHAI)
    assert apply("add_working_days", {"at": saturday, "days": 0}) == saturday
    assert apply("add_working_days", {"at": saturday.isoformat(), "days": 5}) == (
        saturday + dt.timedelta(days=6)
    )


@pytest.mark.parametrize(
    "value", [{"at": None, "days": 1}, {"days": 1}, {"at": "2025-03-14", "days": -1}, "x"]
)
def test_working_days_need_a_start_and_a_whole_number_of_days(value: Any):
    assert refusal("add_working_days", value).rule == "working_days"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1709654400000, dt.datetime(2024, 3, 6, tzinfo=SHANGHAI), id="milliseconds"),
        pytest.param(1709654400, dt.datetime(2024, 3, 6, tzinfo=SHANGHAI), id="seconds"),
        pytest.param("1709654400", dt.datetime(2024, 3, 6, tzinfo=SHANGHAI), id="digits"),
    ],
)
def test_epoch_auto_reads_seconds_below_ten_to_the_eleventh(value: Any, expected: dt.datetime):
    assert apply("epoch_auto", value) == expected


@pytest.mark.parametrize("value", ["2025-06-05", -1, True, 1.5])
def test_epoch_auto_refuses_what_is_not_an_epoch_time(value: Any):
    assert refusal("epoch_auto", value).rule == "epoch_format"


@pytest.mark.parametrize(
    ("value", "params", "expected"),
    [
        ("20240305093000", None, dt.datetime(2024, 3, 5, 9, 30, tzinfo=SHANGHAI)),
        ("2024-03-05", None, dt.datetime(2024, 3, 5, tzinfo=SHANGHAI)),
        ("1709654400000", None, dt.datetime(2024, 3, 6, tzinfo=SHANGHAI)),
        ("20240305", {"as_date": True}, dt.date(2024, 3, 5)),
        ("长期", {"none_values": ["长期"]}, None),
        ("2024年3月5日", {"formats": ["%Y年%-m月%-d日"], "as_date": True}, dt.date(2024, 3, 5)),
    ],
)
def test_strict_time_reads_full_width_fields_epoch_milliseconds_and_none_values(
    value: str, params: Any, expected: Any
):
    assert apply("strict_time", value, params) == expected


@pytest.mark.parametrize("value", ["2024-3-5", "202403050930", "20240230", "1709654400000"])
def test_strict_time_refuses_short_fields_and_impossible_dates(value: str):
    params = {"epoch_ms": False} if len(value) == 13 else None
    error = refusal("strict_time", value, params)
    assert error.rule == "datetime_format"
    assert value not in error.reason


def test_strict_time_refuses_a_format_it_cannot_read_at_lint_time():
    with pytest.raises(ValueError, match="more than"):
        validate_params(get_transform("strict_time"), {"formats": ["%d/%b/%Y"]})


# --- objects and lists ------------------------------------------------------------------------


def test_omit_nulls_drops_only_the_named_null_keys():
    value = {"name": "甲", "uscc": None, "idType": None}
    assert apply("omit_nulls", value, ["uscc"]) == {"name": "甲", "idType": None}
    assert refusal("omit_nulls", ["x"], ["uscc"]).rule == "omit_nulls"


def test_number_items_puts_the_position_first_and_replaces_an_old_one():
    value = [{"name": "甲", "seq": 9}, {"name": "乙"}]
    assert apply("number_items", value, "seq") == [
        {"seq": 1, "name": "甲"},
        {"seq": 2, "name": "乙"},
    ]
    assert apply("number_items", value, {"key": "n", "start": 0})[1] == {"n": 1, "name": "乙"}
    assert refusal("number_items", ["x"], "seq").rule == "number_items"


def _result(index: int, status: str = "accepted") -> dict[str, Any]:
    return {"index": index, "status": status, "record_id": f"R{index}", "code": None}


def test_index_records_sorts_merges_and_fills_the_unmentioned_indices():
    value = {"total": 4, "records": [[_result(2)], [_result(0, "rejected")]]}
    assert apply("index_records", value, "retry") == [
        _result(0, "rejected"),
        {"index": 1, "status": "retry", "record_id": None, "code": None},
        _result(2),
        {"index": 3, "status": "retry", "record_id": None, "code": None},
    ]


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param({"total": 2, "records": [[_result(2)]]}, "record_index_range", id="outside"),
        pytest.param({"total": 2, "records": [[_result(0)], [_result(0)]]}, "record_index_twice"),
        pytest.param({"total": None, "records": []}, "record_total", id="no total"),
        pytest.param({"total": 1, "records": [{"index": "0"}]}, "record_index", id="bad index"),
    ],
)
def test_index_records_refuses_results_that_cannot_be_matched_to_the_call(value: Any, rule: str):
    assert refusal("index_records", value).rule == rule


def test_legal_basis_list_gives_one_entry_per_law_with_its_articles():
    text = (
        "《中华人民共和国食品安全法》第六十七条第一款第（一）项、第七十一条第一款；"
        "《食品安全法实施条例》第二十条，"
    )
    assert apply("legal_basis_list", text) == [
        {
            "law_name": "中华人民共和国食品安全法",
            "article": "第六十七条第一款第（一）项、第七十一条第一款",
        },
        {"law_name": "食品安全法实施条例", "article": "第二十条"},
    ]
    assert apply("legal_basis_list", "《市场主体登记管理条例》") == [
        {"law_name": "市场主体登记管理条例", "article": None}
    ]


@pytest.mark.parametrize(
    "text", ["食品安全法第三十四条", "违反了《食品安全法》第三十四条", "《》第一条", "》《法》"]
)
def test_legal_basis_list_refuses_text_that_is_not_a_provision(text: str):
    assert refusal("legal_basis_list", text).rule == "legal_basis_format"


def test_agree_gives_the_common_value_and_refuses_a_disagreement_without_showing_it():
    assert apply("agree", ["A", None, "A"]) == "A"
    assert apply("agree", [None, None]) is None
    error = refusal("agree", ["350427197511203154", "350427197511203155"])
    assert error.rule == "agree"
    assert "3504" not in str(error)


def test_records_outcome_is_complete_only_when_every_record_is_accepted():
    assert apply("records_outcome", [_result(0), _result(1)]) == "complete"
    assert apply("records_outcome", [_result(0), _result(1, "retry")]) == "partial"
    assert refusal("records_outcome", "x").rule == "records_outcome"
