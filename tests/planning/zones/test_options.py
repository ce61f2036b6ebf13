"""Zone options: one frozen, validated object; the stage's [zones] table inherits it."""

from __future__ import annotations

import pydantic
import pytest

from geo.policy import RURAL_MAX_ONE_WAY_S
from planning.zones import ZoneOptions


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"max_moved": -1}, "max_moved"),
        ({"stability_weight": -5.0}, "stability_weight"),
        ({"overflow_penalty": 0}, "overflow_penalty"),
        ({"overflow_penalty": 1e15}, "overflow_penalty: Input should be less than or equal to 86,400"),
        ({"stability_weight": float("inf")}, "stability_weight: Input should be less than or equal to 86,400"),
        ({"stability_weight_min": 2000}, "stability_weight_min"),
        ({"method": "fastest"}, "method"),
        ({"max_travel_s": {"senior": 1800}}, "max_travel_s"),
        ({"max_movd": 3}, "max_movd"),
    ],
)
def test_bad_values_are_rejected(values: dict[str, object], field: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        ZoneOptions.model_validate(values)


def test_options_are_frozen() -> None:
    options = ZoneOptions()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        options.max_moved = 3  # type: ignore[misc]


def test_whole_seconds_and_travel_cap_per_level() -> None:
    options = ZoneOptions(stability_weight=44.6, max_travel_s={"junior": 2700.0})
    assert options.stability_weight_s == 45
    assert options.overflow_penalty_s is None  # capacity is hard unless overflow is allowed
    assert ZoneOptions(allow_overflow=True, overflow_penalty=900.4).overflow_penalty_s == 900
    assert options.travel_limit_s("junior") == 2700.0
    assert options.travel_limit_s("primary") == RURAL_MAX_ONE_WAY_S

