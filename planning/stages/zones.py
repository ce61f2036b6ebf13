"""The ``zones`` stage: catchment zones per level, multi-school zones and the feeder map.

Files (under ``zones/``): per level ``<level>/assignment.csv``,
``<level>/zones.gpkg``, ``<level>/metrics.json``, ``<level>/multischool.csv``,
``<level>/multischool_zones.gpkg``; and ``feeder.csv`` (primary → junior).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import pandas as pd
from pydantic import Field

from geo.adjacency import block_adjacency
from geo.errors import InputError, Problem
from geo.policy import RURAL_MAX_ONE_WAY_S
from planning.stage import Context, Stage, StageOutput, StageParams
from planning.zones import DEFAULT_OVERFLOW_PENALTY_S, LevelZones, plan_level

logger = logging.getLogger(__name__)

Level = Literal["primary", "junior"]


class ZonesParams(StageParams):
    """``[zones]`` table.

    Attributes
    ----------
    levels
        Levels to plan.
    method
        ``optimal`` (capacitated, proven gap) or ``nearest`` (baseline only).
    contiguity
        Make every zone one connected piece of the block adjacency graph.
    max_moved
        Cap on students whose school changes against ``current_<level>``.
    stability_weight
        Penalty per student whose school changes, in seconds of travel.
    max_travel_s
        Longest acceptable one-way travel per level (default 30 minutes,
        国办发〔2018〕27号); farther blocks are reported as needing boarding or a bus.
    allow_overflow, overflow_penalty
        Allow schools above capacity at this penalty (seconds per student)
        instead of stopping with an explanation.
    within_township
        Keep every zone inside its school's township.
    multischool, feeder
        Also group zones into multi-school zones and map primary → junior feeders.
    """

    levels: list[Level] = Field(default_factory=lambda: ["primary", "junior"], min_length=1)
    method: Literal["nearest", "optimal"] = "optimal"
    contiguity: bool = True
    max_moved: int | None = Field(None, ge=0)
    stability_weight: float = Field(0.0, ge=0)
    max_travel_s: dict[Level, float] = Field(default_factory=dict)
    allow_overflow: bool = False
    overflow_penalty: float = Field(float(DEFAULT_OVERFLOW_PENALTY_S), gt=0)
    within_township: bool = False
    multischool: bool = True
    feeder: bool = True


@dataclass(frozen=True)
class ZonesResult:
    """What the stage decided: per level the plan and its baseline; multi-school zones; feeders."""

    levels: Mapping[str, LevelZones]
    multischool: Mapping[str, Any] = field(default_factory=dict)
    feeder: Any = None


def _assignment_csv(lz: LevelZones) -> pd.DataFrame:
    a = lz.plan.assignment
    return a[["block_id", "school_id", "travel_s", "travel_m", "reason"]].copy()


def run(ctx: Context, params: ZonesParams) -> StageOutput:
    """Plan zones for each level; see :class:`ZonesParams`."""
    inputs = ctx.inputs
    if inputs.blocks is None or not len(inputs.blocks):
        raise InputError([Problem(layer="blocks", message="the zones stage needs the blocks layer")])
    blocks = inputs.blocks.sort_values("block_id", kind="stable").reset_index(drop=True)
    adjacency = None
    ctx.step("block adjacency")
    adj = block_adjacency(blocks, boundary=inputs.boundary)
    if params.contiguity and params.method == "optimal":
        adjacency = adj.matrix
    files: dict[str, Any] = {}
    levels: dict[str, LevelZones] = {}
    travels: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    lines = []
    for level in params.levels:
        schools = inputs.schools_of(level)
        schools = schools[schools[f"capacity_{level}"].fillna(0) > 0]
        schools = schools.sort_values("school_id", kind="stable").reset_index(drop=True)
        if not len(schools):
            raise InputError([Problem(layer="schools", column=f"capacity_{level}", message=f"no {level} school has seats")])
        limit = float(params.max_travel_s.get(level, RURAL_MAX_ONE_WAY_S))
        travel = ctx.travel(
            blocks, schools, origin_id="block_id", dest_id="school_id",
            mode=ctx.scenario.network.mode_for(level), cutoff_s=limit, key=f"zones-{level}",
        )
        ctx.step(f"zones {level} ({params.method})")
        lz = plan_level(
            blocks, schools, travel, level=level, method=params.method, cells=adj.cells, adjacency=adjacency,
            max_travel_s=limit, stability_weight_s=int(round(params.stability_weight)), max_moved=params.max_moved,
            allow_overflow=params.allow_overflow, overflow_penalty_s=int(round(params.overflow_penalty)),
            within_township=params.within_township, time_limit_s=ctx.scenario.solver.time_limit_s, seed=ctx.seed,
        )
        levels[level] = lz
        travels[level] = (travel, limit, blocks)
        m = dict(lz.metrics)
        m["adjacency"] = adj.method
        files[f"{level}/assignment.csv"] = _assignment_csv(lz)
        files[f"{level}/zones.gpkg"] = lz.zones
        files[f"{level}/metrics.json"] = m
        metrics[level] = {
            k: m["plan"][k] for k in ("status", "objective_s", "bound_s", "gap", "moved_students", "overflow_students")
        } | {"mean_travel_s": m["plan"]["travel"]["mean_travel_s"], "nearest_mean_travel_s": m["nearest"]["travel"]["mean_travel_s"]}
        gap = m["plan"]["gap"]
        lines.append(
            f"{level}: {len(schools)} schools, {int(lz.plan.assignment['students'].sum())} students, "
            f"mean travel {m['plan']['travel']['mean_travel_s']} s (nearest {m['nearest']['travel']['mean_travel_s']} s), "
            f"{m['plan']['status']}" + (f", gap {gap:.3%}" if gap is not None else "")
            + (f", {len(lz.plan.unserved)} blocks unserved" if len(lz.plan.unserved) else "")
        )

    multischool: dict[str, Any] = {}
    if params.multischool:
        multischool = _multischool(ctx, levels, travels, adj, files, metrics, lines)
    feeder = None
    if params.feeder and {"primary", "junior"} <= set(levels):
        feeder = _feeder(ctx, levels, files, metrics, lines)
    return StageOutput(
        files=files,
        result=ZonesResult(levels=levels, multischool=multischool, feeder=feeder),
        summary="\n".join(lines),
        metrics=metrics,
    )


def _multischool(
    ctx: Context, levels: Mapping[str, LevelZones], travels: Mapping[str, Any], adj: Any, files: dict, metrics: dict,
    lines: list,
) -> dict:
    from planning.multischool import plan_multischool  # noqa: PLC0415

    out = {}
    for level, lz in levels.items():
        # Lottery sends a child to any school of the multi-school zone: measure travel
        # to the neighbouring schools up to twice the zoning limit.
        plan_schools = ctx.inputs.schools.set_index("school_id").loc[lz.plan.school_load["school_id"]].reset_index()
        limit = travels[level][1]
        travel = ctx.travel(
            travels[level][2], plan_schools, origin_id="block_id", dest_id="school_id",
            mode=ctx.scenario.network.mode_for(level), cutoff_s=2 * limit, key=f"multischool-{level}",
        )
        ms = plan_multischool(
            lz, ctx.inputs.schools, ctx.inputs.teachers, travel=travel, adjacency=adj.matrix, cells=adj.cells, level=level,
            time_limit_s=ctx.scenario.solver.time_limit_s, seed=ctx.seed,
        )
        out[level] = ms
        files[f"{level}/multischool.csv"] = ms.table
        files[f"{level}/multischool_zones.gpkg"] = ms.zones
        metrics[level]["multischool"] = dict(ms.metrics)
        lines.append(f"{level}: {ms.metrics['multizones']} multi-school zones ({ms.metrics['strength_source']})")
    return out


def _feeder(ctx: Context, levels: Mapping[str, LevelZones], files: dict, metrics: dict, lines: list) -> Any:
    from planning.feeder import plan_feeder  # noqa: PLC0415

    primary, junior = levels["primary"], levels["junior"]
    pschools = ctx.inputs.schools.set_index("school_id").loc[primary.plan.school_load["school_id"]].reset_index()
    jschools = ctx.inputs.schools.set_index("school_id").loc[junior.plan.school_load["school_id"]].reset_index()
    travel = ctx.travel(
        pschools, jschools, origin_id="school_id", dest_id="school_id",
        mode=ctx.scenario.network.mode_for("junior"), key="feeder",
    )
    fd = plan_feeder(
        primary.plan.school_load, junior.plan.school_load, travel,
        time_limit_s=ctx.scenario.solver.time_limit_s, seed=ctx.seed,
    )
    files["feeder.csv"] = fd.table
    metrics["feeder"] = dict(fd.metrics)
    lines.append(f"feeder: {len(fd.table)} primary schools → {fd.table['junior_school_id'].nunique()} junior schools")
    return fd


STAGE = Stage(
    name="zones",
    params=ZonesParams,
    run=run,
    needs=("schools", "blocks"),
    description="catchment zones (划片招生) per level, multi-school zones and primary → junior feeders",
)
