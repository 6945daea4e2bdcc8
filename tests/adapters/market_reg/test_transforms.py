"""The transforms of the market_reg mappings: amounts as typed, legal basis strings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.market_reg._transforms import legal_basis_list, record_problem, yuan_text
from runner.adapter_api import MessageRejected, NoParams

NO = NoParams()


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
def test_amounts_as_people_type_them_become_exact_yuan(text: str, yuan: str):
    assert yuan_text.fn(text, NO) == Decimal(yuan)


@pytest.mark.parametrize(
    "text", ["50,000.005", "-500", "+500", "5万", "5万元", "12,60.00", "1,2345", "abc", "1.", ""]
)
def test_amounts_the_spec_forbids_are_refused(text: str):
    with pytest.raises(MessageRejected) as caught:
        yuan_text.fn(text, NO)
    assert caught.value.rule == "money_format"


def test_several_laws_and_several_articles_of_one_law():
    text = (
        "《中华人民共和国食品安全法》第六十七条第一款第（一）项、第七十一条第一款；"
        "《食品安全法实施条例》第二十条，"
    )
    assert legal_basis_list.fn(text, NO) == [
        {
            "law_name": "中华人民共和国食品安全法",
            "article": "第六十七条第一款第（一）项、第七十一条第一款",
        },
        {"law_name": "食品安全法实施条例", "article": "第二十条"},
    ]


def test_a_law_without_article_has_a_null_article():
    assert legal_basis_list.fn("《市场主体登记管理条例》", NO) == [
        {"law_name": "市场主体登记管理条例", "article": None}
    ]


@pytest.mark.parametrize(
    "text", ["食品安全法第三十四条", "违反了《食品安全法》第三十四条", "《》第一条"]
)
def test_a_legal_basis_without_a_book_title_is_refused(text: str):
    with pytest.raises(MessageRejected) as caught:
        legal_basis_list.fn(text, NO)
    assert caught.value.rule == "legal_basis_format"


def test_an_absent_legal_basis_stays_absent():
    assert legal_basis_list.fn(None, NO) is None


def test_a_marked_record_is_rejected_with_its_rule_and_a_readable_one_passes():
    assert record_problem.fn(None, NO) is None
    with pytest.raises(MessageRejected) as caught:
        record_problem.fn({"reason": "line 3: x", "rule": "not_an_object", "field": None}, NO)
    assert (caught.value.rule, caught.value.reason) == ("not_an_object", "line 3: x")
