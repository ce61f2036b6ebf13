"""Travel limits by grade band and boarding schools (国办发〔2018〕27号), on toy matrices with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.policy import BOARDING_ALLOWANCE_YUAN, BOARDING_MAX_ONE_WAY_S, DAY_MAX_ONE_WAY_S
from geo.travel import TravelMatrix
from planning.zones import Reach, ZoneOptions, from_arrays, nearest_from_arrays
from planning.zones.frames import boarding_figures, boarding_schools

NAN = np.nan


def matrix(times: list[list[float]]) -> TravelMatrix:
    """Blocks b0.. × schools A (day school), B (boarding school); seconds, nan = unreachable."""
    t = np.asarray(times, dtype=float)
    o, d = np.nonzero(~np.isnan(t))
    return TravelMatrix(
        origin_ids=np.array([f"b{i}" for i in range(t.shape[0])]),
        dest_ids=np.array(["A", "B"]),
        origin=o.astype(np.int32),
        dest=d.astype(np.int32),
        time_s=t[o, d].astype(np.int32),
        dist_m=t[o, d].astype(np.int32),
        mode="test",
    )


# b0: day school A 10 min away.  b1: only boarding B, 40 min (beyond the 30-minute day
# limit, within the 2-hour boarding reach).  b2: A 70 min (not boarding), B 150 min
# (beyond the reach): no school can take it.
TIMES = [[600, 3000], [NAN, 2400], [4200, 9000]]
BOARDS = np.array([False, True])


def reach(level: str, share: float = 0.0) -> Reach:
    return Reach(
        max_travel_s=1800,
        boarding_reach_s=7200,
        school_boards=BOARDS,
        board_only_if_no_day_school=level == "primary",
        lower_grades_share=share,
    )


def test_junior_pupils_beyond_the_day_limit_board_and_only_the_unreachable_unit_is_unserved() -> None:
    plan = from_arrays(matrix(TIMES), [10, 8, 6], [50, 50], level="junior", reach=reach("junior"))
    a = plan.assignment.set_index("block_id")
    assert a["school_id"].tolist() == ["A", "B", ""]
    assert a["boarders"].tolist() == [0, 8, 0]
    assert a.loc["b1", "reason"] == "boards: 40 min one way, beyond the day limit"
    assert a.loc["b2", "reason"] == (
        "no school within 30 min and no boarding school within 120 min: needs a boarding school nearer home"
    )
    load = plan.school_load.set_index("school_id")
    assert load.loc["B", "boarders"] == 8 and load.loc["A", "boarders"] == 0
    assert plan.unserved["students"].tolist() == [6]


def test_primary_boards_only_without_a_day_school_and_counts_young_boarders() -> None:
    # A has 10 seats for b0 (10) and b3 (5, A at 20 min, B at 40 min): B is farther than the
    # day limit and b3 has a day school, so it may not board; A overflows by 5 instead.
    times = [*TIMES, [1200, 2400]]
    plan = from_arrays(
        matrix(times), [10, 7, 6, 5], [10, 50], level="primary", reach=reach("primary", share=0.5),
    )
    a = plan.assignment.set_index("block_id")
    assert a["school_id"].tolist() == ["A", "B", "", "A"]
    # b1 boards with its 7 pupils; grades 1-3 = round(7 × 0.5) = 4 of them
    assert (a.loc["b1", "boarders"], a.loc["b1", "young_boarders"]) == (7, 4)
    assert a.loc["b2", "reason"].startswith("no school within 30 min for grades 1-3 (day pupils) and no boarding school")
    assert plan.overflow[["school_id", "over_by"]].values.tolist() == [["A", 5]]
    assert "capacity_fallback" in plan.details


def test_capacity_counts_boarders() -> None:
    # b1 (8 pupils) can only board at B, which has 5 seats: 3 above capacity
    plan = from_arrays(matrix(TIMES), [10, 8, 6], [50, 5], level="junior", reach=reach("junior"))
    assert plan.overflow[["school_id", "over_by"]].values.tolist() == [["B", 3]]


def test_without_boarding_schools_the_far_unit_is_unserved_as_before() -> None:
    plan = nearest_from_arrays(matrix(TIMES), [10, 8, 6], [50, 50], level="junior", reach=Reach(max_travel_s=1800))
    assert plan.assignment["school_id"].tolist() == ["A", "", ""]
    assert plan.assignment["reason"].iloc[1] == "no school within 30 min: needs boarding or a school bus"


def test_boarders_and_their_allowance() -> None:
    plan = from_arrays(matrix(TIMES), [10, 8, 6], [50, 50], level="junior", reach=reach("junior"))
    nearest = nearest_from_arrays(matrix(TIMES), [10, 8, 6], [50, 50], level="junior", reach=reach("junior"))
    fig = boarding_figures(plan, nearest, ZoneOptions().allowance("junior"))
    assert fig["boarders"] == 8 and fig["nearest_boarders"] == 8
    assert fig["allowance_yuan"] == 8 * 1250
    assert fig["by_school"] == {"B": {"boarders": 8, "young_boarders": 0, "allowance_yuan": 10_000}}


def test_options_defaults_and_overrides() -> None:
    o = ZoneOptions()
    assert o.travel_limit_s("primary") == DAY_MAX_ONE_WAY_S == 1800
    assert o.boarding_limit_s("junior") == BOARDING_MAX_ONE_WAY_S == 7200
    assert o.allowance("primary") == BOARDING_ALLOWANCE_YUAN["primary"] == 1000
    assert o.allowance("junior") == 1250
    assert o.stability_weight_s == 120
    custom = ZoneOptions(boarding=False, allowance_yuan={"junior": 1500}, boarding_reach_s={"primary": 600})
    assert custom.boarding_limit_s("junior") is None
    assert custom.allowance("junior") == 1500
    # a reach shorter than the day limit is the day limit
    assert ZoneOptions(boarding_reach_s={"primary": 600}).boarding_limit_s("primary") == 1800


@pytest.mark.parametrize(
    ("column", "expected"),
    [([True, False], [True, False]), (["是", "否"], [True, False]), (["yes", None], [True, False])],
)
def test_boarding_column_reads_bools_and_words(column: list[object], expected: list[bool]) -> None:
    assert boarding_schools(pd.DataFrame({"boarding": column})).tolist() == expected
    assert boarding_schools(pd.DataFrame({"x": [1, 2]})).tolist() == [False, False]
