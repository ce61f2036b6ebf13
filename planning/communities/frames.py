"""Frame-level preparation shared by the groups and the pairing model: schools per level, their strength and travel."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from geo.errors import InputError, Problem
from geo.model import LEVELS, SchoolLevel
from geo.travel import TravelMatrix

PAIR_COLUMNS = ["level", "weak_id", "strong_id", "time_s", "weak_strength", "strong_strength"]
UNASSIGNED_COLUMNS = ["level", "school_id", "plan", "reason"]


def strength_problems(schools: pd.DataFrame, strength: pd.DataFrame) -> list[Problem]:
    """One problem per school missing from the strength frame."""
    missing = sorted(set(schools["school_id"].astype(str)) - set(strength.index.astype(str)))
    return [Problem("strength", "school missing from the strength index", row=sid) for sid in missing]


def school_info(schools: pd.DataFrame, strength: pd.DataFrame) -> pd.DataFrame:
    """``level, area_type, strength, strength_class`` indexed by ``school_id`` (sorted)."""
    info = pd.DataFrame(
        {
            "school_id": schools["school_id"].astype(str).to_numpy(),
            "level": schools["level"].astype(str).to_numpy(),
            "area_type": schools["area_type"].astype(str).to_numpy() if "area_type" in schools else "",
        }
    ).set_index("school_id")
    st = strength.copy()
    st.index = st.index.astype(str)
    info["strength"] = st["strength"].reindex(info.index).to_numpy(np.float64)
    info["strength_class"] = st["strength_class"].reindex(info.index).astype(str).to_numpy()
    return info.sort_index()


def level_runs(info: pd.DataFrame, levels: str) -> list[tuple[str, pd.DataFrame]]:
    """(level, its schools): one run ``all`` when levels are mixed, else per level with nine-year schools in both."""
    if levels == "mixed":
        return [("all", info)]
    return [(lv, info[(info["level"] == lv) | (info["level"] == SchoolLevel.NINE_YEAR.value)]) for lv in LEVELS]


def travel_among(travel: TravelMatrix, ids: ArrayLike) -> NDArray[np.float64]:
    """Dense travel seconds among ``ids`` (rows origins, ``inf`` unreachable, 0 on the diagonal).

    Raises
    ------
    InputError
        Ids that are not origins or not destinations of the matrix, each named.
    """
    ids = np.asarray(ids).astype(str)
    unknown = ~np.isin(ids, travel.origin_ids) | ~np.isin(ids, travel.dest_ids)
    missing = sorted(set(ids[unknown]))
    if missing:
        raise InputError([Problem("travel", "school missing from the travel matrix", row=sid) for sid in missing])
    out = travel.reindex(ids).dense("time_s")
    np.fill_diagonal(out, 0.0)
    return out


def concat(frames: list[pd.DataFrame], cols: list[str]) -> pd.DataFrame:
    """The non-empty frames one after the other with columns ``cols`` (an empty frame with them if none)."""
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)

