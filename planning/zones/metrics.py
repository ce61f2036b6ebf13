"""Figures of a zone plan: objective, bound and gap, travel, the service standard, equity groups.

The service standard (DOMAIN.md): the walking radius of the level in towns and
cities (500 m primary, 1000 m junior, GB 50180), 30 minutes one way in
villages (国办发〔2018〕27号). Equity groups (left-behind, migrant, disabled,
low-income children: count columns of the blocks layer) get their own travel
figures, weighted by their children where the block has students at the level.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.policy import RURAL_MAX_ONE_WAY_S, URBAN_JUNIOR_RADIUS_M, URBAN_PRIMARY_RADIUS_M
from planning.zones.plan import ZonePlan

#: Equity groups whose travel is reported separately (blocks layer count columns).
EQUITY_COLUMNS = ("left_behind", "migrant", "disabled", "low_income")


def _weighted_quantile(values: NDArray[np.float64], weights: NDArray[np.float64], q: float) -> float:
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    if not len(values):
        return math.nan
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1] - 1e-9)])


def _travel_figures(
    assignment: pd.DataFrame, weights: NDArray[np.float64], within: NDArray[np.bool_]
) -> dict[str, float | int | None]:
    served = (assignment["school_id"] != "").to_numpy()
    t = assignment["travel_s"].to_numpy(dtype=float, na_value=np.nan)
    total = float(weights.sum())
    w_served = weights * served
    mean = float((np.nan_to_num(t) * w_served).sum() / w_served.sum()) if w_served.sum() else math.nan
    p95 = _weighted_quantile(np.nan_to_num(t), w_served, 0.95)
    return {
        "students": int(total),
        "unserved": int(total - w_served.sum()),
        "mean_travel_s": None if math.isnan(mean) else round(mean, 1),
        "p95_travel_s": None if math.isnan(p95) else round(p95, 1),
        "share_within_standard": None if total == 0 else round(float((weights * (within & served)).sum() / total), 4),
    }


def _within_standard(assignment: pd.DataFrame, area: NDArray[np.object_], level: str) -> NDArray[np.bool_]:
    """Service standard per block: walking radius in towns and cities, 30 minutes in villages."""
    radius = URBAN_PRIMARY_RADIUS_M if level == "primary" else URBAN_JUNIOR_RADIUS_M
    t = assignment["travel_s"].to_numpy(dtype=float, na_value=np.inf)
    m = assignment["travel_m"].to_numpy(dtype=float, na_value=np.inf)
    urban = np.isin(area, ("urban", "town"))
    return np.where(urban, m <= radius, t <= RURAL_MAX_ONE_WAY_S)


def zone_metrics(plan: ZonePlan, blocks: pd.DataFrame, *, level: str) -> dict[str, object]:
    """Figures of one plan: objective, bound, gap, travel, service standard, equity groups.

    Parameters
    ----------
    plan
        Plan of ``level``.
    blocks
        Blocks table indexed by nothing in particular, with ``block_id`` and
        optionally ``area_type`` and the equity count columns.
    level
        ``primary`` or ``junior``.

    Returns
    -------
    dict
        JSON-able.
    """
    a = plan.assignment
    b = blocks.set_index(blocks["block_id"].astype(str)).reindex(a["block_id"])
    area = (b["area_type"] if "area_type" in b else pd.Series("rural", index=b.index)).fillna("rural")
    within = _within_standard(a, area.astype(str).to_numpy(dtype=object), level)
    out: dict[str, object] = {
        "method": plan.method,
        "status": plan.status,
        "objective_s": plan.objective_s,
        "travel_total_s": plan.travel_total_s,
        "bound_s": None if math.isnan(plan.bound_s) else plan.bound_s,
        "gap": None if math.isnan(plan.gap) else round(plan.gap, 6),
        "moved_students": plan.moved_students,
        "travel": _travel_figures(a, a["students"].to_numpy(dtype=float), within),
        "unserved_blocks": len(plan.unserved),
        "overflow": plan.overflow.to_dict("records"),
        "overflow_students": int(plan.overflow["over_by"].sum()) if len(plan.overflow) else 0,
        "utilization": {
            str(r.school_id): None if pd.isna(r.utilization) else round(float(r.utilization), 4)
            for r in plan.school_load.itertuples()
        },
        "contiguous": plan.contiguous,
        "detached_pieces": len(plan.enclaves),
        "detached": [
            {"school_id": sid, "blocks": list(blocks), "why": why}
            for (sid, blocks), why in zip(plan.enclaves, plan.enclave_reasons, strict=False)
        ],
        "details": dict(plan.details),
    }
    equity = {}
    for col in EQUITY_COLUMNS:
        if col in b:
            w = pd.to_numeric(b[col], errors="coerce").fillna(0).to_numpy(dtype=float)
            # children of the group at this level ≈ the group's count where the block has students
            w = np.where(a["students"].to_numpy() > 0, w, 0.0)
            equity[col] = _travel_figures(a, w, within)
    out["equity"] = equity
    return out
