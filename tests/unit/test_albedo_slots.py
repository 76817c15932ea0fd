"""Albedo's amounts, comparisons and top-N, read exactly as a rep writes them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ai.albedo.slots import amount, amount_filter, top


@pytest.mark.parametrize(
    ("text", "op", "value", "upper", "currency"),
    [
        ("deals over $50k", "gt", "50000", None, "USD"),
        ("deals above 50k in negotiation", "gt", "50000", None, None),
        ("at least 1.2m", "gte", "1200000", None, None),
        ("opportunities under €30,000", "lt", "30000", None, "EUR"),
        ("deals of at most 12,500 USD", "lte", "12500", None, "USD"),
        ("more than 100 thousand dollars", "gt", "100000", None, "USD"),
        ("between 10k and 25k", "between", "10000", "25000", None),
        ("between $25,000 and $10,000", "between", "10000", "25000", "USD"),  # in either order
        ("deals > 5000", "gt", "5000", None, None),
    ],
)
def test_amount_filters(text: str, op: str, value: str, upper: str | None, currency: str | None) -> None:
    found = amount_filter(text)
    assert found is not None, text
    assert (found.op, found.value, found.upper, found.currency) == (
        op,
        Decimal(value),
        Decimal(upper) if upper else None,
        currency,
    )
    assert found.text and found.text in text


@pytest.mark.parametrize(
    "text", ["deals in stage 3", "top 5 deals", "my 2 open tasks", "Q3 2026 forecast", "deals from 2025"]
)
def test_numbers_that_are_not_amount_filters(text: str) -> None:
    assert amount_filter(text) is None


def test_amounts_written_as_money() -> None:
    assert amount("log a deal of $50k for Acme") == amount("log a deal of $50k for Acme")
    found = amount("log a deal of $50k for Acme")
    assert found is not None and (found.value, found.currency, found.text) == (Decimal(50000), "USD", "$50k")
    assert amount("€1.5m renewal").value == Decimal(1_500_000)  # type: ignore[union-attr]
    assert amount("deal number 42") is None  # a number, not money


@pytest.mark.parametrize(
    ("text", "n", "descending", "by"),
    [
        ("top 5 deals", 5, True, "amount"),
        ("the 3 biggest deals this quarter", 3, True, "amount"),
        ("10 smallest open deals", 10, False, "amount"),
        ("first 3 leads", 3, True, "amount"),
        ("newest 20 contacts", 20, True, "date"),
        ("biggest deals", None, True, "amount"),
        ("oldest open tasks", None, False, "date"),
    ],
)
def test_top_and_order(text: str, n: int | None, descending: bool, by: str) -> None:
    found = top(text)
    assert found is not None, text
    assert (found.n, found.descending, found.by) == (n, descending, by)


def test_no_order_asked() -> None:
    assert top("deals in negotiation") is None
    assert top("top 0 deals") is None
