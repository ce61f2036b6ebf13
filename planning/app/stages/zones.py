"""The ``zones`` stage: catchment zones per level, multi-school zones and the feeder map.

Files (under ``zones/``): per level ``<level>/assignment.csv``,
``<level>/zones.gpkg``, ``<level>/metrics.json``, ``<level>/multischool.csv``,
``<level>/multischool_zones.gpkg``; and ``feeder.csv`` (primary → junior).

Travel modes: each residential unit travels by the mode of its ``area_type``.
Urban and town units (and units without ``area_type``) use the level's mode
(``[network] mode_primary``/``mode_junior``: walking by default, with the
500 m / 1000 m walking standards); rural units use ``rural_mode``, by default
the free school bus (免费校车, ≤ 60 km/h; 国办发〔2018〕27号: rural pupils travel
≤ 30 minutes one way); so do urban and town units with no school within the
day limit on foot. One travel matrix is computed per mode and merged, so
the travel cap, the optimal plan, the nearest baseline, the multi-school zones
and the metrics all see each unit's own travel time. A bused unit's ``reason``
says so (``school bus (免费校车), 18 min``); ``metrics.json`` reports the blocks,
students, unserved and mean travel per mode under ``travel_modes``. The feeder
map measures a rural primary school's graduates by the same rural mode
(``feeder.csv`` column ``travel_mode``).

Contiguity (``contiguity = true``, the default): every zone is one piece of
the block adjacency graph (shared borders, or clipped Voronoi cells for point
blocks) holding its school's own block. Blocks no school can take at the level
(beyond ``max_travel_s``, or outside the township with ``within_township``) are
in no zone and join the zones they touch, so a zone reaching across such a gap
is whole; blocks with no students at the level are drawn in a bordering zone
that keeps the zones whole, at no cost. ``metrics.json`` reports
``contiguous`` and ``detached_pieces`` (non-zero only when the work budget ran
out) per level.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import Field

from geo.adjacency import Adjacency, block_adjacency
from geo.errors import Figure, InfeasibleError, InputError, Problem, Shortfall, figures
from geo.network import Mode
from geo.travel import TravelMatrix
from planning.app.stage import Command, Context, Stage, StageOutput, StageParams
from planning.app.stages.balance import strength
from planning.zones import (
    FeederPlan,
    Level,
    LevelZones,
    MultiSchoolPlan,
    SolveLimits,
    ZoneOptions,
    ZonePlan,
    from_frames,
    plan_feeder,
    plan_multischool,
)
from planning.zones.instance import REASON_NO_BOARDING, REASON_NO_BOARDING_PRIMARY, REASON_NO_SCHOOL, REASON_TOWNSHIP

logger = logging.getLogger(__name__)


def _every_level() -> list[Level]:
    return ["primary", "junior"]


class ZonesParams(StageParams, ZoneOptions):
    """``[zones]`` table: the model's settings (:class:`planning.zones.ZoneOptions`) and what the stage runs.

    Attributes
    ----------
    levels
        Levels to plan.
    rural_mode
        How children of rural blocks (``area_type = rural``) travel: by default
        the free school bus (免费校车, ≤ 60 km/h, 校车安全管理条例 2012), which
        serves children with no school within walking reach. Urban and town
        blocks, and blocks without ``area_type``, travel by the level's mode
        (``[network] mode_primary``/``mode_junior``, walking by default).
        ``None``, or the level's own mode, gives one mode for every block;
        ``max_travel_s`` is measured by each block's mode.
    multischool, feeder
        Also group zones into multi-school zones and map primary → junior feeders.
    """

    levels: list[Level] = Field(
        default_factory=_every_level, min_length=1, description="levels to plan (primary, junior)"
    )
    rural_mode: Mode | None = Field(
        "bus",
        description="how children of rural blocks travel (bus: free school bus 免费校车); urban and town blocks "
        "use the level's mode (walk); set it to the level's mode for one mode everywhere",
    )
    multischool: bool = Field(True, description="also group zones into multi-school zones (多校划片)")
    feeder: bool = Field(True, description="also map each primary school to one junior school (对口直升)")


@dataclass(frozen=True)
class ZonesResult:
    """What the stage decided: per level the plan and its baseline; multi-school zones; feeders."""

    levels: Mapping[str, LevelZones]
    multischool: Mapping[str, Any] = field(default_factory=dict)
    feeder: Any = None


#: How a block's travel mode reads in the assignment's ``reason``.
MODE_LABELS: Mapping[str, str] = {
    "bus": "school bus (免费校车)",
    "walk": "on foot",
    "bike": "by bike",
    "drive": "by car",
}


def block_modes(layer: pd.DataFrame, level_mode: str, rural_mode: str | None) -> NDArray[np.object_]:
    """Travel mode of each row: ``rural_mode`` where ``area_type`` is rural, else the level's mode.

    Parameters
    ----------
    layer
        Blocks (or schools), optionally with ``area_type``.
    level_mode
        Mode of the level (``[network] mode_primary``/``mode_junior``).
    rural_mode
        Mode of rural rows; ``None`` gives every row the level's mode.

    Returns
    -------
    numpy.ndarray
        One mode name per row, in the layer's order.
    """
    modes = np.full(len(layer), level_mode, dtype=object)
    if rural_mode is not None and "area_type" in layer:
        area = layer["area_type"].astype("string").fillna("").str.strip().str.lower().to_numpy(dtype=object)
        modes[area == "rural"] = rural_mode
    return modes


def merge_travel(
    parts: Sequence[tuple[NDArray[np.integer], TravelMatrix]],
    origin_ids: NDArray[np.str_],
    dest_ids: NDArray[np.str_],
    *,
    mode: str,
) -> TravelMatrix:
    """One travel matrix over all origins from matrices of disjoint subsets of them.

    Parameters
    ----------
    parts
        ``(rows, matrix)``: ``rows`` are the positions in ``origin_ids`` of the
        matrix's origins, in its order; every matrix has the destinations ``dest_ids``.
    origin_ids, dest_ids
        Ids of all origins and of the destinations.
    mode
        Label of the merged matrix (e.g. ``"walk; rural blocks: bus"``).

    Returns
    -------
    TravelMatrix
        Pairs sorted by origin then destination, ``int32`` arrays; origins in no
        part (or unreachable in theirs) have no pairs. Snap distances are kept
        for origins when every part has them, for destinations when all parts agree.

    Raises
    ------
    ValueError
        When a part's ids do not match or parts overlap.
    """
    origin_ids = np.asarray(origin_ids, dtype=str)
    dest_ids = np.asarray(dest_ids, dtype=str)
    seen = np.zeros(len(origin_ids), bool)
    origin, dest, time_s, dist_m = [], [], [], []
    for part_rows, tm in parts:
        rows = np.asarray(part_rows, dtype=np.int64)
        if list(tm.origin_ids) != list(origin_ids[rows]) or list(tm.dest_ids) != list(dest_ids):
            msg = "a part's origins or destinations do not match the ids given"
            raise ValueError(msg)
        if seen[rows].any():
            msg = "parts of a merged travel matrix must not share origins"
            raise ValueError(msg)
        seen[rows] = True
        origin.append(rows[tm.origin])
        dest.append(tm.dest.astype(np.int64))
        time_s.append(tm.time_s)
        dist_m.append(tm.dist_m)
    o = np.concatenate(origin) if origin else np.zeros(0, np.int64)
    d = np.concatenate(dest) if dest else np.zeros(0, np.int64)
    order = np.lexsort((d, o))
    origin_snap = None
    if parts and all(tm.origin_snap_m is not None for _, tm in parts):
        origin_snap = np.full(len(origin_ids), np.nan)
        for part_rows, tm in parts:
            origin_snap[np.asarray(part_rows, dtype=np.int64)] = tm.origin_snap_m
    dest_snap = None
    snaps = [tm.dest_snap_m for _, tm in parts]
    known = [x for x in snaps if x is not None]
    if snaps and len(known) == len(snaps) and all(np.array_equal(known[0], x) for x in known):
        dest_snap = known[0]
    return TravelMatrix(
        origin_ids=origin_ids,
        dest_ids=dest_ids,
        origin=o[order].astype(np.int32),
        dest=d[order].astype(np.int32),
        time_s=(np.concatenate(time_s) if time_s else np.zeros(0, np.int32))[order].astype(np.int32),
        dist_m=(np.concatenate(dist_m) if dist_m else np.zeros(0, np.int32))[order].astype(np.int32),
        mode=mode,
        origin_snap_m=origin_snap,
        dest_snap_m=dest_snap,
    )


def _mixed_travel(
    ctx: Context,
    origins: gpd.GeoDataFrame,
    destinations: gpd.GeoDataFrame,
    modes: NDArray[np.object_],
    *,
    level_mode: str,
    origin_id: str,
    cutoff_s: float | None,
    key: str,
) -> TravelMatrix:
    """Travel matrix where each origin travels by its own mode (one ``ctx.travel`` per mode)."""
    groups = sorted(set(modes.tolist()), key=lambda mode: (mode != level_mode, mode))
    if len(groups) == 1:
        return ctx.travel(
            origins, destinations, origin_id=origin_id, dest_id="school_id", mode=groups[0], cutoff_s=cutoff_s, key=key
        )
    parts = []
    labels = []
    for mode in groups:
        rows = np.flatnonzero(modes == mode)
        tm = ctx.travel(
            origins.iloc[rows], destinations, origin_id=origin_id, dest_id="school_id", mode=mode, cutoff_s=cutoff_s,
            key=f"{key}-{mode}",
        )
        parts.append((rows, tm))
        labels.append(tm.mode if mode == level_mode else f"rural: {tm.mode}")
    return merge_travel(
        parts, origins[origin_id].astype(str).to_numpy(), destinations["school_id"].astype(str).to_numpy(),
        mode="; ".join(labels),
    )


def _minutes(travel_s: float) -> int:
    return max(1, int((travel_s + 30) // 60))


def _relabel(plan: ZonePlan, mode_of: pd.Series, level_mode: str) -> ZonePlan:
    """The plan with the ``reason`` of blocks travelling by another mode than the level's saying so."""
    a = plan.assignment.copy()
    mode = mode_of.reindex(a["block_id"].astype(str)).fillna(level_mode).to_numpy(dtype=object)
    other = mode != level_mode
    if not other.any():
        return plan
    served = (a["school_id"] != "").to_numpy()
    t = a["travel_s"].to_numpy(dtype=float, na_value=np.nan)
    reason = a["reason"].astype(str).to_numpy(dtype=object)
    boards = a["boarders"].to_numpy(dtype=np.int64) > 0
    for i in np.flatnonzero(other):
        label = MODE_LABELS.get(mode[i], f"by {mode[i]}")
        if served[i]:
            reason[i] = f"{label}, {_minutes(t[i])} min" + ("; boards (beyond the day limit)" if boards[i] else "")
        else:
            by = label if label.startswith(("by ", "on ")) else f"by {label}"
            text = reason[i].replace(" min", f" min {by}", 1)  # the day limit is measured by this mode
            if mode[i] == "bus":
                text = text.replace(": needs boarding or a school bus", ": needs boarding")
            reason[i] = text
    a["reason"] = reason
    unserved = plan.unserved.copy()
    unserved["reason"] = a.set_index("block_id")["reason"].reindex(unserved["block_id"]).to_numpy()
    return dataclasses.replace(plan, assignment=a, unserved=unserved)


def _mode_figures(assignment: pd.DataFrame, mode_of: pd.Series, level_mode: str) -> dict[str, dict[str, Any]]:
    """Per travel mode: blocks and students (with children at the level), unserved, mean travel."""
    mode = mode_of.reindex(assignment["block_id"].astype(str)).fillna(level_mode).to_numpy(dtype=object)
    served = (assignment["school_id"] != "").to_numpy()
    students = assignment["students"].to_numpy(dtype=np.int64)
    t = assignment["travel_s"].to_numpy(dtype=float, na_value=0.0)
    out = {}
    for name in sorted(set(mode.tolist())):
        mine = mode == name
        ok = mine & served
        w = students[ok]
        out[name] = {
            "blocks": int(mine.sum()),
            "students": int(students[mine].sum()),
            "unserved_blocks": int((mine & ~served).sum()),
            "unserved_students": int(students[mine & ~served].sum()),
            "mean_travel_s": round(float((t[ok] * w).sum() / w.sum()), 1) if w.sum() else None,
        }
    return out


def _assignment_csv(lz: LevelZones) -> pd.DataFrame:
    a = lz.plan.assignment
    return a[["block_id", "school_id", "travel_s", "travel_m", "students", "boarders", "young_boarders", "reason"]].copy()


def level_shortfalls(lz: LevelZones, names: Mapping[str, str], *, day_limit_s: float) -> list[Shortfall]:
    """What the level's plan cannot meet, one line per school or unit.

    Over-full schools (seats short: the plan overflows them), schools where
    grades 1–3 pupils board because no school is within the day limit of their
    unit (国办发〔2018〕27号: they do not board), and units no school can take.
    """
    plan, level, day = lz.plan, lz.level, f"{day_limit_s / 60:g}"
    fallback = str(plan.details.get("capacity_fallback", ""))
    why = fallback or "allow_overflow is set"
    best = re.search(r"the best has (\d+) students above capacity", fallback)

    def where(school_id: object) -> str:
        return f"{level} school {school_id} {names.get(str(school_id), '')}".rstrip()

    def school(school_id: object) -> dict[str, Figure]:
        return {"level": str(level), "school_id": str(school_id), "name": names.get(str(school_id), "")}

    out = [
        Shortfall(
            where=where(r.school_id),
            short_by=int(r.over_by),
            detail=f"{int(r.capacity_seats)} seats, {int(r.students)} students zoned there ({why})",
            kind="zones.over_capacity",
            figures=figures(**school(r.school_id), seats=int(r.capacity_seats), students=int(r.students), over=int(r.over_by),
                            why="fallback" if fallback else "allow_overflow", best_over=int(best.group(1)) if best else ""),
        )
        for r in plan.overflow.itertuples()
    ]
    young = plan.school_load[plan.school_load["young_boarders"] > 0]
    out += [
        Shortfall(
            where=where(r.school_id),
            short_by=int(r.young_boarders),
            unit="grades 1-3 boarders",
            detail=f"their units have no school within {day} min, so they board here with the older pupils "
            "(grades 1-3 do not board, 国办发〔2018〕27号): keep or open a teaching point, or run a school bus",
            kind="zones.young_boarders",
            figures=figures(**school(r.school_id), day_min=day_limit_s / 60),
        )
        for r in young.itertuples()
    ]
    out += [
        Shortfall(where=f"{level} unit {r.block_id}", short_by=int(r.students), unit="students", detail=str(r.reason),
                  **_unserved_kind(str(level), str(r.block_id), str(r.reason)))
        for r in plan.unserved.itertuples()
    ]
    return out


def _reason_pattern(template: str) -> re.Pattern[str]:
    """A reason of :mod:`planning.zones.instance` as a pattern reading back its figures, the travel mode
    :func:`_relabel` puts after the limit and whether a school bus is still named as a remedy."""
    slots = {"{limit} min": r"(?P<limit>[^ ]+) min(?: (?P<by>.+?))?", "{reach}": "(?P<reach>[^ ]+)",
             " or a school bus": "(?P<or_bus> or a school bus)?"}
    parts = re.split("(" + "|".join(map(re.escape, slots)) + ")", template)
    return re.compile("".join(slots.get(part, re.escape(part)) for part in parts))


#: The reasons :mod:`planning.zones.instance` gives an unserved unit, as patterns that read their figures back.
_UNSERVED_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, _reason_pattern(template))
    for code, template in (("no_school", REASON_NO_SCHOOL), ("township", REASON_TOWNSHIP),
                           ("no_boarding_primary", REASON_NO_BOARDING_PRIMARY), ("no_boarding", REASON_NO_BOARDING))
)
#: The mode words of :func:`_relabel`, back to the mode.
_MODE_OF_LABEL = {("by " + label if not label.startswith(("by ", "on ")) else label): mode for mode, label in MODE_LABELS.items()}


def _unserved_kind(level: str, block_id: str, reason: str) -> dict[str, Any]:
    """``kind`` and ``figures`` of a unit no school can take, read from its reason (none for a reason of another form)."""
    for code, pattern in _UNSERVED_REASONS:
        m = pattern.fullmatch(reason)
        if m and (m["by"] is None or m["by"] in _MODE_OF_LABEL):
            found = {k: v for k, v in m.groupdict().items() if v is not None}
            found.update(by=_MODE_OF_LABEL.get(found.get("by", ""), ""), or_bus="or_bus" if m.groupdict().get("or_bus") else "")
            return {"kind": "zones.unserved", "figures": figures(level=level, block_id=block_id, reason=code, **found)}
    return {}


@dataclass(frozen=True)
class _LevelTravel:
    """How the blocks of a level travel: the merged matrix, the level's cap and mode, each block's mode."""

    travel: TravelMatrix
    limit: float
    blocks: gpd.GeoDataFrame
    modes: NDArray[np.object_]
    level_mode: str


@dataclass
class _Outputs:
    """What the stage writes and says, filled level by level."""

    files: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def _limits(ctx: Context) -> SolveLimits:
    """The scenario's solver limits and seed."""
    return SolveLimits(time_limit_s=ctx.scenario.solver.time_limit_s, seed=ctx.seed)


def _level_schools(ctx: Context, level: Level) -> gpd.GeoDataFrame:
    """Schools with seats at the level, sorted by id (none when the layer has no such school)."""
    schools = ctx.inputs.schools_of(level)
    if f"capacity_{level}" not in schools:
        return schools.iloc[:0]
    schools = schools[schools[f"capacity_{level}"].fillna(0) > 0]
    return schools.sort_values("school_id", kind="stable").reset_index(drop=True)


def _pupils(blocks: pd.DataFrame, level: Level) -> int:
    """Pupils of the level in the blocks (0 when the column is absent)."""
    col = f"students_{level}"
    return int(pd.to_numeric(blocks[col], errors="coerce").fillna(0).sum()) if col in blocks else 0


def _no_schools(level: Level, pupils: int) -> InputError:
    """Why a level whose pupils have no school with seats at all cannot be planned, and what to do."""
    other = "junior" if level == "primary" else "primary"
    msg = (
        f"no {level} school has seats, but the blocks hold {pupils} {level} pupils: add the {level} schools "
        f"(their capacity_{level} or classes_{level}), or plan only the {other} level "
        f"(--level {other}, or levels = [\"{other}\"] in [zones])"
    )
    return InputError([Problem(layer="schools", column=f"capacity_{level}", message=msg)])


def _beyond_day_limit(travel: TravelMatrix, limit: float) -> NDArray[np.bool_]:
    """Origins with no destination within ``limit`` seconds."""
    near = np.zeros(len(travel.origin_ids), bool)
    near[travel.origin[travel.time_s <= limit]] = True
    return ~near


def _plan_level(
    ctx: Context, params: ZonesParams, level: Level, blocks: gpd.GeoDataFrame, adj: Adjacency
) -> tuple[LevelZones, _LevelTravel]:
    """Zones of one level, each block travelling by its own mode (reasons and figures per mode)."""
    schools = _level_schools(ctx, level)
    if not len(schools):
        raise _no_schools(level, _pupils(blocks, level))
    limit = params.travel_limit_s(level)
    level_mode = ctx.scenario.network.mode_for(level)
    modes = block_modes(blocks, level_mode, params.rural_mode)
    # Boarding schools take pupils from beyond the day limit, up to the boarding reach.
    cutoff = params.boarding_limit_s(level) or limit
    travel = _mixed_travel(
        ctx, blocks, schools, modes, level_mode=level_mode, origin_id="block_id", cutoff_s=cutoff,
        key=f"zones-{level}",
    )
    # An urban or town unit with no school within the day limit on foot rides the
    # rural mode (the school bus) too, rather than being left without a school.
    far = _beyond_day_limit(travel, limit) & (modes == level_mode)
    if params.rural_mode is not None and params.rural_mode != level_mode and far.any():
        modes = np.where(far, params.rural_mode, modes).astype(object)
        travel = _mixed_travel(
            ctx, blocks, schools, modes, level_mode=level_mode, origin_id="block_id", cutoff_s=cutoff,
            key=f"zones-{level}-far",
        )
    mode_of = pd.Series(modes, index=blocks["block_id"].astype(str).to_numpy())
    how = "optimal plan with a proven gap" if params.method == "optimal" else "nearest school"
    ctx.step(f"zones of the {level} schools ({how})")
    lz = from_frames(
        blocks, schools, travel, level=level, cells=adj.cells, adjacency=adj.matrix, options=params, limits=_limits(ctx)
    )
    lz = dataclasses.replace(
        lz, plan=_relabel(lz.plan, mode_of, level_mode), nearest=_relabel(lz.nearest, mode_of, level_mode)
    )
    by_mode = _mode_figures(lz.plan.assignment, mode_of, level_mode)
    lz = dataclasses.replace(
        lz, metrics={**lz.metrics, "level_mode": level_mode, "rural_mode": params.rural_mode, "travel_modes": by_mode}
    )
    return lz, _LevelTravel(travel, limit, blocks, modes, level_mode)


def _seconds(value: float | None) -> str:
    """A mean travel time for the summary: ``n/a`` when no pupil is served."""
    return "n/a" if value is None else f"{value} s"


def _count(n: int, noun: str) -> str:
    """``n`` and the noun, plural unless one ("1 school", "2 schools")."""
    return f"{n} {noun}{'s' * (n != 1)}"


def _summary_line(lz: LevelZones, m: Mapping[str, Any], lt: _LevelTravel) -> str:
    """One line per level: schools, students, mean travel against the nearest plan, status, blocks by other modes."""
    gap, b, mv = m["plan"]["gap"], m["boarding"], m["moved_vs_nearest"]
    others = [
        f"{v['students']} students of {v['blocks']} rural blocks by {k}" + (
            f" ({v['unserved_students']} beyond {lt.limit / 60:g} min)" if v["unserved_students"] else ""
        )
        for k, v in m["travel_modes"].items() if k != lt.level_mode
    ]
    return (
        f"{lz.level}: {len(lz.plan.school_load)} schools, {int(lz.plan.assignment['students'].sum())} students, "
        f"mean travel {_seconds(m['plan']['travel']['mean_travel_s'])} "
        f"(nearest {_seconds(m['nearest']['travel']['mean_travel_s'])}), "
        f"{m['plan']['status']}" + (f", gap {gap:.3%}" if gap is not None else "")
        + (f", {_count(len(lz.plan.unserved), 'block')} unserved" if len(lz.plan.unserved) else "")
        + "".join(f"; {x}" for x in others)
        + (
            f"; {b['boarders']} boarders at {_count(b['boarding_schools_used'], 'school')} "
            f"(allowance {b['allowance_yuan']:,.0f} yuan/year)" if b["boarders"] else ""
        )
        + (f"; moved {mv['plan']} students (nearest {mv['nearest']})" if mv["plan"] is not None else "")
        + _pieces_note(lz)
    )


def _pieces_note(lz: LevelZones) -> str:
    """The console's word on zones left in pieces (which and why) and on a search the clock stopped."""
    plan, note = lz.plan, ""
    if plan.enclaves:
        n = len(plan.enclaves)
        more = f" (all {n} in metrics.json)" if n > 1 else ""
        first = plan.enclave_reasons[0] if plan.enclave_reasons else f"zone of school {plan.enclaves[0][0]}"
        note += f"; {n} detached zone piece{'s' if n > 1 else ''}: {first}{more}"
    if plan.wall_stops:
        note += "; the time limit stopped the search before its work budget (a faster machine may give a better plan)"
    return note


def _report_level(out: _Outputs, lz: LevelZones, lt: _LevelTravel, adjacency_method: str) -> None:
    """The level's files, its key figures and its summary line."""
    level = lz.level
    m: dict[str, Any] = dict(lz.metrics)
    m["adjacency"] = adjacency_method
    out.files[f"{level}/assignment.csv"] = _assignment_csv(lz)
    out.files[f"{level}/zones.gpkg"] = lz.zones
    out.files[f"{level}/metrics.json"] = m
    out.metrics[level] = {
        k: m["plan"][k] for k in ("status", "objective_s", "bound_s", "gap", "moved_students", "overflow_students")
    } | {
        "mean_travel_s": m["plan"]["travel"]["mean_travel_s"],
        "nearest_mean_travel_s": m["nearest"]["travel"]["mean_travel_s"],
        "unserved_blocks": m["plan"]["unserved_blocks"],
        "unserved_students": m["plan"]["travel"]["unserved"],
        "students_by_mode": {k: v["students"] for k, v in m["travel_modes"].items()},
        "nearest_moved_students": m["nearest"]["moved_students"],
        "boarders": m["boarding"]["boarders"],
        "young_boarders": m["boarding"]["young_boarders"],
        "boarding_allowance_yuan": m["boarding"]["allowance_yuan"],
        "solve_time_s": round(lz.plan.solve_time_s, 3),  # wall clock: manifest only
    }
    out.lines.append(_summary_line(lz, m, lt))


def run(ctx: Context, params: ZonesParams) -> StageOutput:
    """Plan zones for each level; see :class:`ZonesParams`."""
    inputs = ctx.inputs
    if inputs.blocks is None or not len(inputs.blocks):
        raise InputError([Problem(layer="blocks", message="the zones stage needs the blocks layer")])
    blocks = inputs.blocks.sort_values("block_id", kind="stable").reset_index(drop=True)
    ctx.step("which residential units border each other (for connected zones)")
    adj = block_adjacency(blocks, boundary=inputs.boundary)
    out = _Outputs()
    levels: dict[str, LevelZones] = {}
    travels: dict[str, _LevelTravel] = {}
    shortfalls: list[Shortfall] = []
    names = _school_names(inputs.schools)
    for level in params.levels:
        if not len(_level_schools(ctx, level)) and not _pupils(blocks, level):
            out.lines.append(f"{level}: not planned (no {level} school has seats and no block has {level} pupils)")
            continue
        levels[level], travels[level] = _plan_level(ctx, params, level, blocks, adj)
        _report_level(out, levels[level], travels[level], adj.method)
        shortfalls += level_shortfalls(levels[level], names, day_limit_s=travels[level].limit)
    if params.strict and shortfalls:
        raise InfeasibleError(
            summary=f"zones: {len(shortfalls)} targets cannot be met (seats, the 30-minute rule of grades 1-3, "
            "units no school can take)",
            shortfalls=shortfalls,
            hint="add seats or a teaching point, or run without strict to plan with these listed",
        )
    multischool: dict[str, MultiSchoolPlan] = {}
    if params.multischool:
        multischool = _multischool(ctx, levels, travels, adj, out)
    feeder = None
    if params.feeder and {"primary", "junior"} <= set(levels):
        feeder = _feeder(ctx, levels, out, rural_mode=params.rural_mode)
    return StageOutput(
        files=out.files,
        result=ZonesResult(levels=levels, multischool=multischool, feeder=feeder),
        summary="\n".join(out.lines),
        metrics=out.metrics,
        shortfalls=tuple(shortfalls),
    )


def _school_names(schools: pd.DataFrame) -> dict[str, str]:
    """School id → name (empty when the layer has no names)."""
    if "name" not in schools:
        return {}
    return dict(zip(schools["school_id"].astype(str), schools["name"].astype("string").fillna("").astype(str), strict=True))


def _strength_or_why(ctx: Context) -> tuple[pd.DataFrame | None, str]:
    """The run's strength frame, or ``None`` and why when its data are incomplete (multi-school zones then rank by score or size)."""
    try:
        return strength(ctx), ""
    except InputError as err:
        logger.info("strength index unavailable (%s); ranking by quality score or size", err)
        first = str(err.problems[0]) if err.problems else str(err)
        return None, f"; strength index unavailable ({len(err.problems)} problems, first: {first})"


def _multischool(
    ctx: Context, levels: Mapping[str, LevelZones], travels: Mapping[str, _LevelTravel], adj: Adjacency, out: _Outputs
) -> dict[str, MultiSchoolPlan]:
    plans = {}
    strength, note = _strength_or_why(ctx)
    for level, lz in levels.items():
        # Lottery sends a child to any school of the multi-school zone: measure travel
        # to the neighbouring schools up to twice the zoning limit.
        plan_schools = ctx.inputs.schools.set_index("school_id").loc[lz.plan.school_load["school_id"]].reset_index()
        lt = travels[level]
        # Each block by its own mode, as in the zones (rural blocks by school bus).
        travel = _mixed_travel(
            ctx, lt.blocks, plan_schools, lt.modes, level_mode=lt.level_mode, origin_id="block_id", cutoff_s=2 * lt.limit,
            key=f"multischool-{level}",
        )
        ms = plan_multischool(
            lz, ctx.inputs.schools, strength, travel=travel, adjacency=adj.matrix, cells=adj.cells, level=level,
            limits=_limits(ctx),
        )
        plans[level] = ms
        out.files[f"{level}/multischool.csv"] = ms.table
        out.files[f"{level}/multischool_zones.gpkg"] = ms.zones
        metrics = {**ms.metrics, "strength_source": f"{ms.metrics['strength_source']}{note}"}
        out.metrics[level]["multischool"] = metrics
        out.lines.append(f"{level}: {ms.metrics['multizones']} multi-school zones ({metrics['strength_source']})")
    return plans


def _feeder(ctx: Context, levels: Mapping[str, LevelZones], out: _Outputs, *, rural_mode: str | None) -> FeederPlan:
    primary, junior = levels["primary"], levels["junior"]
    pschools = ctx.inputs.schools.set_index("school_id").loc[primary.plan.school_load["school_id"]].reset_index()
    jschools = ctx.inputs.schools.set_index("school_id").loc[junior.plan.school_load["school_id"]].reset_index()
    # Graduates of a rural primary school go on by school bus, like the rural zones.
    level_mode = ctx.scenario.network.mode_for("junior")
    modes = block_modes(pschools, level_mode, rural_mode)
    travel = _mixed_travel(
        ctx, pschools, jschools, modes, level_mode=level_mode, origin_id="school_id", cutoff_s=None, key="feeder"
    )
    fd = plan_feeder(primary.plan.school_load, junior.plan.school_load, travel, limits=_limits(ctx))
    mode_of = pd.Series(modes, index=pschools["school_id"].astype(str).to_numpy())
    table = fd.table.copy()
    table["travel_mode"] = mode_of.reindex(table["primary_school_id"].astype(str)).fillna(level_mode).to_numpy(dtype=str)
    fd = dataclasses.replace(fd, table=table)
    out.files["feeder.csv"] = fd.table
    out.metrics["feeder"] = dict(fd.metrics)
    out.lines.append(f"feeder: {len(fd.table)} primary schools → {fd.table['junior_school_id'].nunique()} junior schools")
    return fd


STAGE = Stage(
    name="zones",
    params=ZonesParams,
    run=run,
    result_type=ZonesResult,
    files=(
        "{level}/assignment.csv",
        "{level}/zones.gpkg",
        "{level}/metrics.json",
        "{level}/multischool.csv",
        "{level}/multischool_zones.gpkg",
        "feeder.csv",
    ),
    needs=("schools", "blocks"),
    description="catchment zones (划片招生) per level, multi-school zones and primary → junior feeders",
    command=Command(
        "zones",
        "catchment zones (划片招生): nearest baseline, optimal zones, multi-school zones, feeders",
        aliases={"--level": "levels"},
    ),
)
