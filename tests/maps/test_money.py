"""Money in sentences: a unit chosen per amount, never a non-zero sum shown as zero."""

from __future__ import annotations

import math

import pytest

from maps.money import in_unit, yuan


@pytest.mark.parametrize(("amount", "zh", "en"), [
    (1_200_000, "120 万元", "1.20 M yuan"),  # was "新建 0.0 亿元"
    (52_800_000, "5,280 万元", "52.8 M yuan"),
    (1_120_900_000, "11.2 亿元", "1.12 billion yuan"),
    (12_000, "1.20 万元", "12,000 yuan"),
    (3_000, "3,000 元", "3,000 yuan"),
    (0, "0 元", "0 yuan"),
    (-4_200_000, "-420 万元", "-4.20 M yuan"),
])
def test_each_amount_gets_its_own_unit(amount: float, zh: str, en: str) -> None:
    assert yuan(amount, "zh") == zh
    assert yuan(amount, "en") == en


def test_no_non_zero_amount_reads_zero() -> None:
    for amount in (1.0, 499.0, 5_000.0, 49_999.0, 1e6, 3e7, 1e8, 4.9e9):
        for lang in ("zh", "en"):
            assert float(yuan(amount, lang).split()[0].replace(",", "")) > 0, (amount, lang)
        assert float(in_unit(amount, 1e4).replace(",", "")) > 0, amount


def test_a_fixed_unit_column_keeps_whole_units_from_ten_up() -> None:
    assert in_unit(1_200_000, 1e4) == "120"
    assert in_unit(3_000, 1e4) == "0.3"
    assert in_unit(12_000, 1e4) == "1.2"
    assert in_unit(0, 1e4) == "0"
    assert yuan(math.nan, "zh") == "—" and in_unit(math.inf, 1e4) == ""
