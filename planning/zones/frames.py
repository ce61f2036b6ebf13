"""The frame door of single-school zones: layers in, a level's plan, its baseline, polygons and figures out.

:func:`from_frames` checks the blocks and schools layers, builds the arrays
(students and seats of the level, today's school, townships, each school's own
block), runs the nearest baseline and the plan asked for
(:func:`planning.zones.plan.optimal_zones`), and dissolves the blocks' cells
into one polygon per zone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

from geo.errors import InputError, Problem, missing_columns
from geo.travel import TravelMatrix
from planning.zones.instance import BlockGraph, Reach
from planning.zones.metrics import zone_metrics
from planning.zones.options import DEFAULT_LIMITS, DEFAULT_OPTIONS, Level, SolveLimits, ZoneOptions
from planning.zones.plan import ZonePlan, nearest_zones, optimal_zones


@dataclass(frozen=True)
class LevelZones:
    """Zones of one level: the optimal plan beside the nearest baseline.

    Attributes
    ----------
    level
        ``primary`` or ``junior``.
    plan
        The plan asked for (``optimal`` or ``nearest``).
    nearest
        The nearest-school baseline on the same travel matrix.
    zones
        One polygon per school zone: ``school_id, name, students,
        capacity_seats, utilization, geometry`` (metric CRS).
    metrics
        JSON-able figures of both plans (see :func:`zone_metrics`).
    """

    level: str
    plan: ZonePlan
    nearest: ZonePlan
    zones: gpd.GeoDataFrame
    metrics: Mapping[str, object]


def school_roots(cells: NDArray[np.object_], school_points: NDArray[np.object_]) -> NDArray[np.int64]:
    """Index of each school's own block: the block (cell) containing it, else the nearest."""
    if not len(cells):
        return np.full(len(school_points), -1, np.int64)
    tree = shapely.STRtree(cells)
    idx = tree.query_nearest(school_points, all_matches=False, return_distance=False)
    out = np.full(len(school_points), -1, np.int64)
    out[idx[0]] = idx[1]
    return out


def dissolve_zones(
    cells: NDArray[np.object_],
    block_school: NDArray[np.int64],
    schools: gpd.GeoDataFrame,
    school_load: pd.DataFrame,
) -> gpd.GeoDataFrame:
    """One polygon per school: union of the cells of its blocks, with load and utilization."""
    ids = schools["school_id"].astype(str).to_numpy()
    geoms = []
    for j in range(len(ids)):
        mine = cells[block_school == j]
        geoms.append(shapely.union_all(mine) if len(mine) else None)
    load = school_load.set_index("school_id").reindex(ids)
    frame = gpd.GeoDataFrame(
        {
            "school_id": ids,
            "name": schools["name"].astype(str).to_numpy() if "name" in schools else ids,
            "students": load["students"].to_numpy(dtype=np.int64),
            "capacity_seats": load["capacity_seats"].to_numpy(dtype=np.int64),
            "utilization": load["utilization"].to_numpy(dtype=float),
        },
        geometry=geoms,
        crs=schools.crs,
    )
    frame = frame[frame.geometry.notna()]
    return frame.sort_values("school_id", kind="stable").reset_index(drop=True)


def _check(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, travel: TravelMatrix, level: str) -> None:
    """Raise when a required column is missing or the travel matrix does not match the layers."""
    problems = missing_columns(blocks, ("block_id", f"students_{level}"), "blocks")
    problems += missing_columns(schools, ("school_id", f"capacity_{level}"), "schools")
    if problems:
        raise InputError(problems)
    block_ids = blocks["block_id"].astype(str).to_numpy()
    school_ids = schools["school_id"].astype(str).to_numpy()
    if list(travel.origin_ids) != list(block_ids) or list(travel.dest_ids) != list(school_ids):
        msg = "travel matrix ids do not match the blocks and schools layers (same rows, same order)"
        raise InputError([Problem(layer="travel", message=msg)])


def _current(blocks: gpd.GeoDataFrame, school_ids: NDArray[np.str_], level: str) -> NDArray[np.int64] | None:
    """Index of each block's school today (−1 unknown; a closed or other school: one past the last)."""
    col = f"current_{level}"
    if col not in blocks or not blocks[col].notna().any():
        return None
    pos = {s: k for k, s in enumerate(school_ids)}
    cur_ids = blocks[col].astype("string").fillna("").to_numpy(dtype=object)
    current = np.array([pos.get(s, -2) if s else -1 for s in cur_ids], dtype=np.int64)
    current[current == -2] = len(school_ids)  # a closed/other school: staying is impossible
    return current


def boarding_schools(schools: pd.DataFrame) -> NDArray[np.bool_]:
    """Whether each school boards (寄宿制): its ``boarding`` column, none when absent."""
    if "boarding" not in schools:
        return np.zeros(len(schools), bool)
    col = schools["boarding"]
    if col.dtype == object or pd.api.types.is_string_dtype(col):
        text = col.astype("string").fillna("").str.strip().str.lower()
        return text.isin(("1", "true", "yes", "y", "是", "寄宿", "寄宿制")).to_numpy(dtype=bool)
    return col.fillna(False).astype(bool).to_numpy()


def _reach(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, level: Level, options: ZoneOptions) -> Reach:
    """The day limit, boarding schools and their reach and, with ``within_township``, the townships."""
    boards = boarding_schools(schools)
    far = options.boarding_limit_s(level)
    reach = Reach(
        max_travel_s=options.travel_limit_s(level),
        boarding_reach_s=far if boards.any() else None,
        school_boards=boards if far is not None and boards.any() else None,
        board_only_if_no_day_school=level == "primary",
        lower_grades_share=options.lower_grades_share if level == "primary" else 0.0,
    )
    if options.within_township and "township" in blocks and "township" in schools:
        return dataclasses.replace(
            reach,
            block_township=blocks["township"].astype("string").fillna("").to_numpy(dtype=object),
            school_township=schools["township"].astype("string").fillna("").to_numpy(dtype=object),
        )
    return reach


def boarding_figures(plan: ZonePlan, current: ZonePlan, allowance_yuan: float) -> dict[str, object]:
    """Boarders of a plan per school, their living-allowance cost (两免一补), moved students against the baseline.

    ``young_boarders`` are the grades 1–3 pupils among them (a shortfall of the
    30-minute rule); ``allowance_yuan`` counts every boarder at the level's
    rate (an upper bound: the allowance goes to boarders of poor families).
    """
    load = plan.school_load
    mine = load[load["boarders"] > 0]
    return {
        "boarders": int(load["boarders"].sum()),
        "young_boarders": int(load["young_boarders"].sum()),
        "boarding_schools_used": len(mine),
        "allowance_per_boarder_yuan": allowance_yuan,
        "allowance_yuan": round(float(load["boarders"].sum()) * allowance_yuan, 2),
        "by_school": {
            str(r.school_id): {
                "boarders": int(r.boarders),
                "young_boarders": int(r.young_boarders),
                "allowance_yuan": round(int(r.boarders) * allowance_yuan, 2),
            }
            for r in mine.itertuples()
        },
        "nearest_boarders": int(current.school_load["boarders"].sum()),
    }


def from_frames(
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    travel: TravelMatrix,
    *,
    level: Level,
    cells: NDArray[np.object_] | None = None,
    adjacency: sp.csr_array | None = None,
    options: ZoneOptions = DEFAULT_OPTIONS,
    limits: SolveLimits = DEFAULT_LIMITS,
) -> LevelZones:
    """Zones of one level from the layers: the GeoDataFrame door to :func:`planning.zones.plan.optimal_zones`.

    Parameters
    ----------
    blocks
        Blocks with ``block_id`` and ``students_<level>`` (optional
        ``current_<level>``, ``area_type``, ``township``, equity counts).
    schools
        Schools teaching the level, with ``school_id``, ``name`` and
        ``capacity_<level>``.
    travel
        Blocks × schools travel matrix (ids matching the layers).
    level
        ``primary`` or ``junior``.
    cells
        Polygon of each block (its polygon or clipped Voronoi cell), for zones
        and, with ``adjacency``, to find each school's own block.
    adjacency
        Block adjacency; with it, ``cells`` and ``options.contiguity`` every
        optimal zone is one connected piece.
    options
        How to plan: method, travel cap of the level (farther blocks are
        unserved), stability, overflow, townships, contiguity.
    limits
        Solver limits.

    Returns
    -------
    LevelZones
    """
    _check(blocks, schools, travel, level)
    school_ids = schools["school_id"].astype(str).to_numpy()
    demand = blocks[f"students_{level}"].fillna(0).to_numpy(dtype=np.int64)
    capacity = schools[f"capacity_{level}"].fillna(0).to_numpy(dtype=np.int64)
    current = _current(blocks, school_ids, level)
    limit = options.travel_limit_s(level)
    reach = _reach(blocks, schools, level, options)
    graph = None
    if options.method == "optimal" and options.contiguity and adjacency is not None and cells is not None:
        graph = BlockGraph(adjacency, school_roots(np.asarray(cells, dtype=object), schools.geometry.to_numpy()))
    nearest = nearest_zones(travel, demand, capacity, level=level, reach=reach, current=current)
    plan: ZonePlan = nearest
    if options.method == "optimal":
        plan = optimal_zones(
            travel, demand, capacity, level=level, reach=reach, current=current, graph=graph, options=options, limits=limits
        )
    table = pd.DataFrame(blocks.drop(columns=blocks.geometry.name))
    metrics: Mapping[str, object] = {
        "level": level,
        "plan": zone_metrics(plan, table, level=level),
        "nearest": zone_metrics(nearest, table, level=level),
        "max_travel_s": limit,
        "boarding_reach_s": reach.boarding_reach_s,
        "boarding": boarding_figures(plan, nearest, options.allowance(level)),
        "moved_vs_nearest": {
            "plan": plan.moved_students,
            "nearest": nearest.moved_students,
            "stability_weight_s": options.stability_weight_s,
        },
        "travel_mode": travel.mode,
    }
    if cells is None:
        cells = blocks.geometry.to_numpy()
    zones = dissolve_zones(np.asarray(cells, dtype=object), plan.block_school, schools, plan.school_load)
    return LevelZones(level=level, plan=plan, nearest=nearest, zones=zones, metrics=metrics)
