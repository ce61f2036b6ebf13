"""Frame-level preparation shared by the groups and the pairing model: schools per level, their strength and travel."""

from __future__ import annotations

from collections.abc import Sequence

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
    """Per school (indexed by ``school_id``, sorted): ``level, area_type, strength, strength_class``, and what
    decides whether it may lead: ``pupils``, ``teaching_point``, ``complete`` (from the strength frame when it has
    them, else the schools layer, else unknown: NaN pupils, not a teaching point, complete), ``name``,
    ``township`` and ``boarding`` (for the 中心校+村小 form)."""
    n = len(schools)

    def flag(name: str) -> NDArray[np.bool_]:
        return schools[name].fillna(False).astype(bool).to_numpy() if name in schools else np.zeros(n, bool)

    info = pd.DataFrame(
        {
            "school_id": schools["school_id"].astype(str).to_numpy(),
            "level": schools["level"].astype(str).to_numpy(),
            "area_type": schools["area_type"].astype(str).to_numpy() if "area_type" in schools else "",
            "name": schools["name"].astype(str).to_numpy() if "name" in schools else "",
            "township": schools["township"].astype(object).where(schools["township"].notna(), "").astype(str).to_numpy()
            if "township" in schools
            else "",
            "boarding": flag("boarding"),
        }
    ).set_index("school_id")
    enrolled = [c for c in ("enrolled_primary", "enrolled_junior") if c in schools]
    pupils = schools[enrolled].sum(axis=1).to_numpy(np.float64) if enrolled else np.full(n, np.nan)
    info["pupils"] = pupils
    info["teaching_point"] = flag("teaching_point")
    info["complete"] = True
    st = strength.copy()
    st.index = st.index.astype(str)
    info["strength"] = st["strength"].reindex(info.index).to_numpy(np.float64)
    info["strength_class"] = st["strength_class"].reindex(info.index).astype(str).to_numpy()
    for c in ("pupils", "teaching_point", "complete"):
        if c in st.columns:
            given = st[c].reindex(info.index)
            info[c] = given.where(given.notna(), info[c]).to_numpy()
    info["teaching_point"] = info["teaching_point"].astype(bool)
    info["complete"] = info["complete"].astype(bool)
    return info.sort_index()


def may_lead(info: pd.DataFrame, *, min_pupils: int, area_types: Sequence[str] | None) -> NDArray[np.bool_]:
    """Schools that may lead a group or be the strong partner of a pair, whatever their strength.

    Not a teaching point, a complete school, at least ``min_pupils`` pupils (when known) and of one of
    ``area_types`` (``None``: any).
    """
    ok = ~info["teaching_point"].to_numpy(bool) & info["complete"].to_numpy(bool)
    ok &= ~(info["pupils"].to_numpy(np.float64) < min_pupils)
    if area_types is not None:
        ok &= info["area_type"].isin(list(area_types)).to_numpy()
    return ok


def why_not_lead(info: pd.DataFrame, *, min_pupils: int, area_types: Sequence[str] | None) -> list[str]:
    """Why each school may not lead (``""`` when it may)."""
    out = []
    for r in info.itertuples():
        why = []
        if r.teaching_point:
            why.append("teaching point")
        if r.pupils < min_pupils:
            why.append(f"{int(r.pupils)} pupils < {min_pupils}")
        if not r.complete:
            why.append("incomplete")
        if area_types is not None and r.area_type not in area_types:
            why.append(f"{r.area_type} school")
        out.append(", ".join(why))
    return out


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

