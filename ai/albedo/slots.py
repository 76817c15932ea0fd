"""Amounts, comparisons, top-N and order in requests to Albedo ("deals over $50k", "the 5 biggest deals",
"between 10k and 25,000", "newest leads first"), read exactly: each slot keeps the words it came from, so a reply
can say what it understood.

- `amount_filter(text)`: "over $50k" -> AmountFilter(op="gt", value=50000); "at least 1.2m" -> gte 1,200,000;
  "under €30,000" -> lt 30000 (currency EUR); "between 10k and 25k" -> between 10000 and 25000. A number alone is
  not an amount filter: it needs a comparison word (or a currency sign with one).
- `amount(text)`: the first amount written as one ("$50k", "50 thousand", "€1.5m", "12,500 USD").
- `top(text)`: "top 5", "the 5 biggest", "10 largest", "first 3" -> Top(n, descending, by); "biggest" alone
  orders without a limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD")
SCALES = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "mm": 1_000_000, "million": 1_000_000, "bn": 10**9, "b": 10**9}

_NUMBER = (
    r"(?P<sym>[$€£¥])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?(?P<scale>k|mm|m|bn|b|thousand|million)?\b(?:\s?(?P<code>"
    + "|".join(CODES)
    + r"|dollars|euros|pounds))?"
)
_AMOUNT = re.compile(_NUMBER, re.IGNORECASE)
_GT = r"over|above|more than|greater than|bigger than|larger than|exceeding|>"
_GTE = r"at least|no less than|minimum(?: of)?|>="
_LT = r"under|below|less than|smaller than|<"
_LTE = r"at most|no more than|up to|maximum(?: of)?|<="


def _named(prefix: str) -> str:
    """The amount pattern with its groups renamed (one regex holds several amounts)."""
    return _NUMBER.replace("?P<", f"?P<{prefix}")


_COMPARE = re.compile(rf"(?P<op>{_GTE}|{_LTE}|{_GT}|{_LT})\s+(?P<amount>{_named('a_')})", re.IGNORECASE)
_BETWEEN = re.compile(rf"between\s+(?P<low>{_named('l_')})\s+(?:and|to|-)\s+(?P<high>{_named('h_')})", re.IGNORECASE)
_UP = "biggest|largest|highest|top|most valuable|newest|latest|most recent"
_DOWN = "smallest|lowest|least valuable|oldest|earliest"
_TOP = re.compile(
    rf"\b(?:(?:the\s+)?(?P<dir1>top|first|{_UP}|{_DOWN})\s+(?P<n1>\d{{1,3}})|(?:the\s+)?(?P<n2>\d{{1,3}})\s+(?P<dir2>{_UP}|{_DOWN}))\b",
    re.IGNORECASE,
)
_ORDER = re.compile(rf"\b(?P<dir>{_UP}|{_DOWN})\b", re.IGNORECASE)
_BY_DATE = ("newest", "latest", "most recent", "oldest", "earliest")


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str | None
    text: str


@dataclass(frozen=True)
class AmountFilter:
    op: str  # gt, gte, lt, lte, between
    value: Decimal
    upper: Decimal | None = None  # for between
    currency: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Top:
    n: int | None  # None: an order without a limit ("biggest deals")
    descending: bool
    by: str  # "amount" or "date"
    text: str


def _amount_of(match: re.Match[str], prefix: str = "") -> Amount | None:
    def group(name: str) -> str | None:
        return match.group(prefix + name)

    raw = group("num")
    if raw is None:
        return None
    value = Decimal(raw.replace(",", ""))
    scale = (group("scale") or "").lower()
    if scale:
        value *= SCALES[scale]
    code = (group("code") or "").upper()
    currency = {"DOLLARS": "USD", "EUROS": "EUR", "POUNDS": "GBP"}.get(code, code or None)
    if currency is None and group("sym"):
        currency = SYMBOLS[group("sym")]  # type: ignore[index]
    return Amount(value, currency, match.group(0).strip())


def amount(text: str) -> Amount | None:
    """The first amount written as money (a currency sign or code, or a scale such as k or million)."""
    for match in _AMOUNT.finditer(text):
        if match["sym"] or match["scale"] or match["code"]:
            return _amount_of(match)
    return None


def amount_filter(text: str) -> AmountFilter | None:
    """The first amount comparison ("over $50k", "between 10k and 25k"), or None."""
    between = _BETWEEN.search(text)
    compare = _COMPARE.search(text)
    if between and (compare is None or between.start() <= compare.start()):
        low, high = _amount_of(between, "l_"), _amount_of(between, "h_")
        if low is None or high is None:
            return None
        low_value, high_value = sorted((low.value, high.value))
        return AmountFilter("between", low_value, high_value, low.currency or high.currency, between.group(0))
    if compare is None:
        return None
    found = _amount_of(compare, "a_")
    if found is None:
        return None
    word = compare["op"].lower()
    op = next(
        name
        for name, words in (("gte", _GTE), ("lte", _LTE), ("gt", _GT), ("lt", _LT))
        if re.fullmatch(words, word, re.IGNORECASE)
    )
    return AmountFilter(op, found.value, None, found.currency, compare.group(0))


def top(text: str) -> Top | None:
    """A top-N or an order ("top 5", "the 5 biggest", "oldest first"), or None."""
    match = _TOP.search(text)
    if match:
        word = (match["dir1"] or match["dir2"]).lower()
        n = int(match["n1"] or match["n2"])
        if n == 0:
            return None
        return Top(n, word not in _DOWN.split("|"), "date" if word in _BY_DATE else "amount", match.group(0))
    order = _ORDER.search(text)
    if order:
        word = order["dir"].lower()
        if word == "top":
            return None
        return Top(None, word not in _DOWN.split("|"), "date" if word in _BY_DATE else "amount", order.group(0))
    return None
