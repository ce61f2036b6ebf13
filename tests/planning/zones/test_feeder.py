"""Feeder map: each primary school to one junior school within its yearly intake."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.travel import TravelMatrix
from planning.zones.feeder import plan_feeder


def test_feeder_respects_intake_and_minimizes_travel() -> None:
    # Graduates: p1 = 60 / 6 = 10, p2 = 120 / 6 = 20. Intake: j1 = 60 / 3 = 20, j2 = 90 / 3 = 30.
    # Both prefer j1 (100 s) over j2 (p1 300 s, p2 250 s); only one fits j1.
    # p1 → j2: 10·300 + 20·100 = 5000; p2 → j2: 10·100 + 20·250 = 6000. Optimum 5000.
    tm = TravelMatrix(
        origin_ids=np.array(["p1", "p2"]), dest_ids=np.array(["j1", "j2"]),
        origin=np.array([0, 0, 1, 1], np.int32), dest=np.array([0, 1, 0, 1], np.int32),
        time_s=np.array([100, 300, 100, 250], np.int32), dist_m=np.array([1, 1, 1, 1], np.int32), mode="test",
    )
    plan = plan_feeder(
        pd.DataFrame({"school_id": ["p1", "p2"], "students": [60, 120]}),
        pd.DataFrame({"school_id": ["j1", "j2"], "capacity_seats": [60, 90]}),
        tm,
    )
    assert plan.table.to_dict("records") == [
        {"primary_school_id": "p1", "junior_school_id": "j2", "graduates": 10, "travel_s": 300},
        {"primary_school_id": "p2", "junior_school_id": "j1", "graduates": 20, "travel_s": 100},
    ]
    assert plan.objective == 5000 and plan.status == "OPTIMAL"
    assert plan.intake["over_by"].sum() == 0


def test_feeder_reports_short_intake() -> None:
    tm = TravelMatrix(
        origin_ids=np.array(["p1"]), dest_ids=np.array(["j1"]), origin=np.array([0], np.int32),
        dest=np.array([0], np.int32), time_s=np.array([60], np.int32), dist_m=np.array([1], np.int32), mode="test",
    )
    plan = plan_feeder(
        pd.DataFrame({"school_id": ["p1"], "students": [600]}), pd.DataFrame({"school_id": ["j1"], "capacity_seats": [150]}), tm
    )
    assert plan.metrics["over_intake"] == [{"junior_school_id": "j1", "over_by": 50}]
