"""Stage ``layout``: which schools to keep, expand, shrink or merge for a target year (布局规划).

Needs the schools and blocks layers. Children per unit in grades 1–3, 4–6 and 7–9 come from the
``projection`` stage for ``target_year`` (default its last year) when it ran, else today's
``students_primary`` (half in grades 1–3, :data:`geo.policy.PRIMARY_LOWER_GRADES_SHARE`) and
``students_junior``. Schools keep their level; classes today are ``classes_*`` (else seats or
pupils ÷ class size, rounded up); a school may grow to the school-size limit in whole classes.
``candidates`` names a table of candidate sites (``site_id, level, lon, lat`` and optionally
``name, max_classes_primary, max_classes_junior, boarding``) the plan may build on.
Travel is by ``mode`` (default the school bus's road, ``drive``). The model and its costs are
:func:`planning.layout.plan_layout` and :class:`~planning.layout.LayoutOptions`; ``keep`` lists
the school ids the bureau keeps open.

Files: ``decisions.csv`` (``school_id, name, decision, classes before/after per level,
merged_into, year, construction_yuan, reason, lon, lat``: every row's reason from the plan's own figures, in the report's
language, :mod:`planning.layout.reasons`; WGS84, so that the map can draw the new sites), ``assignment.csv`` (``block_id, grades,
children, today_school_id, school_id, travel_min, boarder, bus, beyond_limit``), ``costs.csv`` (``kind, yuan_per_year,
yuan_total``) and ``metrics.json``. Result: :class:`LayoutResult`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import Field

from geo.errors import InputError, Problem
from geo.model import Column, LayerSpec
from geo.policy import PRIMARY_LOWER_GRADES_SHARE
from planning.app.stage import Command, Context, LayerFile, Stage, StageOutput, StageParams
from planning.app.stages.projection import ProjectionResult
from planning.layout import GROUPS, LayoutOptions, LayoutPlan, LayoutProblem, plan_layout
from planning.layout.problem import TIER_POINT, TIER_TOWN, TIER_URBAN, TIER_VILLAGE
from planning.layout.reasons import Language, explain, reason_text
from planning.limits import SolveLimits

#: CP-SAT work (deterministic seconds) per second of the user's time limit. The layout model is large (every
#: unit × grade band × school in reach): building it and CP-SAT's work took 5–7 wall seconds per deterministic
#: second on the 2-core machine (the demo's 20 s limit gave 151 s), so a quarter keeps the stage near the limit
#: while the plan stays deterministic.
WORK_PER_SECOND = 0.25

#: Travel is searched to this multiple of the boarding limit, so that children with no school within the limits
#: are sent to (and told of) the nearest one beyond them (``beyond_limits = "nearest"``).
SEARCH_BEYOND = 4


#: Candidate sites for new schools (a table with WGS84 coordinates), read and validated with the inputs.
CANDIDATES = LayerSpec(
    name="candidate_sites",
    geometry="none",
    id_column="site_id",
    columns=(
        Column("site_id", "id", True, ("选址编号", "编号"), description="candidate site code (not a school_id)"),
        Column("name", "str", False, ("名称", "选址名称"), description="name of the site"),
        Column("level", "enum", True, ("学段", "办学类型"), ("primary", "junior", "nine_year"), "primary, junior or nine_year"),
        Column("lon", "float", True, ("经度", "longitude"), description="longitude, WGS84", limits=(73.0, 136.0), why_limits="China"),
        Column("lat", "float", True, ("纬度", "latitude"), description="latitude, WGS84", limits=(3.0, 54.0), why_limits="China"),
        Column("max_classes_primary", "int", False, ("小学最多班数",), description="most primary classes the site can hold"),
        Column("max_classes_junior", "int", False, ("初中最多班数",), description="most junior classes the site can hold"),
        Column("boarding", "bool", False, ("寄宿制",), description="the new school would board"),
    ),
)


class LayoutParams(StageParams, LayoutOptions):
    """Parameters of the ``layout`` stage: :class:`~planning.layout.LayoutOptions` and the stage's own."""

    candidates: Annotated[Path | None, LayerFile(CANDIDATES)] = Field(
        None, description="candidate sites for new schools: site_id, level, lon, lat (+ name, max_classes_*, boarding)"
    )
    target_year: int | None = Field(None, description="year planned for; default the projection's last year (or today)")
    plan_for: Literal["target_year", "peak"] = Field(
        "target_year",
        description="children of the target year, or each unit's and grade band's most over the projected years up to it "
        "(a layout that serves every year)",
    )
    keep: list[str] = Field(default_factory=list, description="school ids the bureau keeps open")
    mode: Literal["drive", "bus", "bike", "walk"] = Field("drive", description="travel mode home → school")
    deterministic_time_s: float | None = Field(
        None, gt=0, description="CP-SAT work budget in deterministic seconds; default a quarter of [solver] time_limit_s"
    )


@dataclass(frozen=True)
class LayoutResult:
    """The layout plan, the year it is for, the ids of its rows and columns and the schools' and sites' names."""

    plan: LayoutPlan
    year: int
    block_ids: NDArray[np.str_]
    school_ids: NDArray[np.str_]
    names: NDArray[np.str_]


def _classes_now(schools: pd.DataFrame, lvl: str, size: int) -> NDArray[np.int64]:
    for col, div in ((f"classes_{lvl}", 1), (f"capacity_{lvl}", size), (f"enrolled_{lvl}", size)):
        if col in schools.columns:
            v = pd.to_numeric(schools[col], errors="coerce").fillna(0).to_numpy(dtype=float)
            if v.sum() > 0:
                return np.ceil(v / div).astype(np.int64)
    return np.zeros(len(schools), dtype=np.int64)


def _children(ctx: Context, params: LayoutParams) -> tuple[NDArray[np.int64], int]:
    blocks = ctx.inputs.blocks
    proj = ctx.result(ProjectionResult)
    if proj is not None:
        years = proj.projection.years
        year = int(params.target_year if params.target_year is not None else years[-1])
        order = pd.Index(proj.block_ids).get_indexer(blocks["block_id"].astype(str))
        kids = proj.children(year)
        if params.plan_for == "peak":
            kids = np.max([proj.children(int(y)) for y in years if y <= year], axis=0)
        return np.rint(kids[order]).astype(np.int64), year
    p = blocks["students_primary"].to_numpy(dtype=float)
    lower = np.rint(p * PRIMARY_LOWER_GRADES_SHARE)
    kids = np.stack([lower, p - lower, blocks["students_junior"].to_numpy(dtype=float)], axis=1)
    return kids.astype(np.int64), int(params.target_year or 0)


def _current(ctx: Context) -> NDArray[np.int64] | None:
    blocks, schools = ctx.inputs.blocks, ctx.inputs.schools
    if "current_primary" not in blocks.columns and "current_junior" not in blocks.columns:
        return None
    idx = {v: k for k, v in enumerate(schools["school_id"].astype(str))} | {
        str(n): k for k, n in enumerate(schools["name"].astype(str))
    }
    out = np.full((len(blocks), 3), -1, dtype=np.int64)
    for g, col in enumerate(("current_primary", "current_primary", "current_junior")):
        if col in blocks.columns:
            out[:, g] = [idx.get(v, -1) if isinstance(v, str) else -1 for v in blocks[col].tolist()]
    return out


def _pupils(schools: pd.DataFrame) -> NDArray[np.int64]:
    """Pupils of each school today: ``enrolled_primary + enrolled_junior`` (−1 where not given: then classes × class size)."""
    cols = [c for c in ("enrolled_primary", "enrolled_junior") if c in schools.columns]
    if not cols:
        return np.full(len(schools), -1, dtype=np.int64)
    v = sum(pd.to_numeric(schools[c], errors="coerce").fillna(0).to_numpy(dtype=float) for c in cols)
    return np.asarray(v, dtype=np.int64) if float(np.sum(v)) > 0 else np.full(len(schools), -1, dtype=np.int64)


def places(ctx: Context, params: LayoutParams) -> gpd.GeoDataFrame:
    """Today's schools and the candidate sites, one frame: ``school_id, name, level, existing, boarding,
    teaching_point, tier`` (the merge rules' rank from ``area_type``), ``pupils`` (today), ``classes_{level},
    max_classes_{level}`` and the geometry, in the metric CRS."""
    schools = ctx.inputs.schools
    flag = lambda f, c: f[c].fillna(False).astype(bool).to_numpy() if c in f.columns else np.zeros(len(f), dtype=bool)  # noqa: E731
    area = schools["area_type"].astype(str).to_numpy() if "area_type" in schools.columns else np.full(len(schools), "rural")
    tier = np.where(flag(schools, "teaching_point"), TIER_POINT, np.select([area == "urban", area == "town"], [TIER_URBAN, TIER_TOWN], TIER_VILLAGE))
    out = gpd.GeoDataFrame({
        "school_id": schools["school_id"].astype(str).to_numpy(), "name": schools["name"].astype(str).to_numpy(),
        "level": schools["level"].astype(str).to_numpy(), "existing": True, "boarding": flag(schools, "boarding"),
        "teaching_point": flag(schools, "teaching_point"), "tier": tier.astype(np.int64), "pupils": _pupils(schools),
        "classes_primary": _classes_now(schools, "primary", params.class_size_primary),
        "classes_junior": _classes_now(schools, "junior", params.class_size_junior),
    }, geometry=schools.geometry.to_numpy(), crs=schools.crs)  # fmt: skip
    sites = ctx.table(params, "candidates")
    if sites is None or sites.empty:
        return out
    clash = sorted(set(sites["site_id"].astype(str)) & set(out["school_id"]))
    if clash:
        raise InputError([Problem(str(params.candidates), f"site ids already used by schools: {', '.join(clash)}", column="site_id")])
    pts = gpd.GeoSeries(gpd.points_from_xy(sites["lon"], sites["lat"]), crs="EPSG:4326").to_crs(schools.crs)
    new = gpd.GeoDataFrame({
        "school_id": sites["site_id"].astype(str).to_numpy(),
        "name": (sites["name"] if "name" in sites.columns else sites["site_id"]).astype(str).to_numpy(),
        "level": sites["level"].astype(str).to_numpy(), "existing": False, "boarding": flag(sites, "boarding"), "teaching_point": False,
        "tier": TIER_URBAN, "pupils": 0, "classes_primary": 0, "classes_junior": 0,
    }, geometry=pts.to_numpy(), crs=schools.crs)  # fmt: skip
    for lvl in ("primary", "junior"):
        col = f"max_classes_{lvl}"
        if col in sites.columns:
            new[col] = pd.to_numeric(sites[col], errors="coerce").to_numpy()
    return gpd.GeoDataFrame(pd.concat([out, new], ignore_index=True), crs=schools.crs)


def _travel(ctx: Context, params: LayoutParams, where: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """``(units, schools)`` one-way seconds home → school by ``mode``, searched to :data:`SEARCH_BEYOND` × the boarding
    limit; for the units with no school of a level within that search (a road that winds far round), searched on without
    limit, so that they too go to their nearest school, beyond the limits (cached by the context)."""
    blocks = ctx.inputs.blocks
    ids = where["school_id"].to_numpy()
    near = ctx.travel(blocks, where, origin_id="block_id", dest_id="school_id", mode=params.mode,
                      cutoff_s=SEARCH_BEYOND * params.boarding_max_s, key="layout")
    out = near.reindex(blocks["block_id"].astype(str).to_numpy(), ids).dense()
    lost = np.zeros(len(blocks), dtype=bool)
    for lvl in ("primary", "junior"):
        teaches = where["existing"].to_numpy(dtype=bool) & where["level"].isin([lvl, "nine_year"]).to_numpy()
        lost |= ~np.isfinite(out[:, teaches]).any(axis=1) & teaches.any()
    if lost.any():
        far = ctx.travel(blocks[lost], where, origin_id="block_id", dest_id="school_id", mode=params.mode, key="layout-far")
        out[lost] = far.reindex(blocks["block_id"].astype(str).to_numpy()[lost], ids).dense()
    return out


def _pupils_now(where: gpd.GeoDataFrame, params: LayoutParams) -> NDArray[np.int64]:
    """Pupils today of each school and site; where the layer gives none, classes × class size."""
    given = where["pupils"].to_numpy(dtype=np.int64)
    size = np.array([params.class_size_primary, params.class_size_junior])
    est = (where[["classes_primary", "classes_junior"]].to_numpy(dtype=np.int64) * size[None, :]).sum(axis=1)
    return np.where(given >= 0, given, est).astype(np.int64)


def build(ctx: Context, params: LayoutParams, where: gpd.GeoDataFrame) -> tuple[LayoutProblem, int]:
    """The layout instance of the run's inputs (and projection) on the schools and sites ``where``, and the year it is for."""
    blocks = ctx.inputs.blocks
    ids = where["school_id"].to_numpy()
    unknown = sorted(set(params.keep) - set(ids[where["existing"].to_numpy()]))
    if unknown:
        raise InputError([Problem("scenario.toml", f"keep names unknown school ids: {', '.join(unknown)}", column="layout.keep")])
    level = where["level"].to_numpy()
    levels = np.stack([np.isin(level, ["primary", "nine_year"]), np.isin(level, ["junior", "nine_year"])], axis=1)
    now = where[["classes_primary", "classes_junior"]].to_numpy(dtype=np.int64)
    size = np.where(levels.all(axis=1), params.max_pupils_nine_year, params.max_pupils_school)
    top = np.stack([size // params.class_size_primary, size // params.class_size_junior], axis=1)
    for k, lvl in enumerate(("primary", "junior")):
        given = pd.to_numeric(where.get(f"max_classes_{lvl}", pd.Series(np.nan, index=where.index)), errors="coerce").to_numpy()
        top[:, k] = np.where(np.isfinite(given), np.minimum(given, top[:, k]), top[:, k])
    kids, year = _children(ctx, params)
    prob = LayoutProblem(
        children=kids, travel_s=_travel(ctx, params, where),
        levels=levels, classes_now=now * levels, existing=where["existing"].to_numpy(dtype=bool), boarding=where["boarding"].to_numpy(dtype=bool),
        keep=np.isin(ids, params.keep), teaching_point=where["teaching_point"].to_numpy(dtype=bool),
        max_classes=np.maximum(top, now) * levels, current=_current(ctx), unit_ids=tuple(blocks["block_id"].astype(str)),
        tier=where["tier"].to_numpy(dtype=np.int64), pupils_now=_pupils_now(where, params),
    )  # fmt: skip
    return prob, year


def reasons(ctx: Context, prob: LayoutProblem, res: LayoutResult, options: LayoutOptions) -> list[str]:
    """Each decision's reason (:mod:`planning.layout.reasons`) in the report's language (``[report] language``, Chinese by
    default), schools by name."""
    lang: Language = "en" if str(ctx.scenario.report.get("language", "zh")) == "en" else "zh"
    names = [str(n) for n in res.names]
    return [reason_text(r, lang, names=names, year=res.year) for r in explain(prob, res.plan, options)]


def _tables(ctx: Context, res: LayoutResult, params: LayoutParams, where: gpd.GeoDataFrame, why: list[str]) -> dict[str, Any]:
    plan, ids, names = res.plan, res.school_ids, res.names
    dec = pd.DataFrame([{
        "school_id": ids[d.school], "name": names[d.school], "decision": d.decision,
        "classes_primary_before": d.classes_before[0], "classes_primary_after": d.classes_after[0],
        "classes_junior_before": d.classes_before[1], "classes_junior_after": d.classes_after[1],
        "merged_into": "" if d.merged_into is None else ids[d.merged_into], "year": res.year,
        "construction_yuan": round(d.construction_yuan), "reason": why[d.school],
    } for d in plan.decisions])  # fmt: skip
    wgs = where.geometry.to_crs(4326)
    dec["lon"], dec["lat"] = wgs.x.round(6).to_numpy(), wgs.y.round(6).to_numpy()
    travel = _travel(ctx, params, where)
    rows = []
    problem_kids, _ = _children(ctx, params)
    for i, g in zip(*np.nonzero(plan.assign >= 0)):
        s = int(plan.assign[i, g])
        today = int(plan.today[i, g])
        rows.append({"block_id": res.block_ids[i], "grades": GROUPS[g], "children": int(problem_kids[i, g]),
                     "today_school_id": ids[today] if today >= 0 else "", "school_id": ids[s],
                     "travel_min": round(float(travel[i, s]) / 60, 1), "boarder": bool(plan.boarder[i, g]), "bus": bool(plan.bus[i, g]),
                     "beyond_limit": bool(plan.beyond[i, g])})
    costs = pd.DataFrame([{"kind": k, "yuan_per_year": 0 if k == "construction" else round(v),
                           "yuan_total": round(v if k == "construction" else v * params.horizon_years)} for k, v in plan.costs.items()])
    return {"decisions.csv": dec, "assignment.csv": pd.DataFrame(rows), "costs.csv": costs}


def _solve(prob: LayoutProblem, options: LayoutOptions, budget: float | None, time_limit_s: float, seed: int) -> LayoutPlan:
    """The layout on a work budget of ``budget`` (default a quarter of the time limit); when CP-SAT has no plan by
    then, :func:`~planning.layout.plan_layout` returns its warm start (status ``WARM_START``) with a lower bound."""
    work = budget or WORK_PER_SECOND * time_limit_s
    return plan_layout(prob, options=options, limits=SolveLimits(time_limit_s=work, workers=1, seed=seed))


def _trips(prob: LayoutProblem, plan: LayoutPlan) -> dict[str, float]:
    """Longest one-way trips of the plan in minutes: boarders, day pupils of grades 1-3 (beyond-limit children aside),
    the farthest any child of a merged or closed school travels, and the farthest trip of a child beyond every limit."""
    pick = plan.assign >= 0
    trip = np.where(pick, prob.travel_s[np.arange(len(plan.assign))[:, None], np.maximum(plan.assign, 0)], 0.0) / 60
    trip = np.where(np.isfinite(trip), trip, 0.0)
    within = pick & ~plan.beyond
    closed = prob.existing & ~plan.open
    moved = within & (plan.today >= 0) & closed[np.maximum(plan.today, 0)]
    top = lambda m: round(float(trip[m].max()), 1) if m.any() else 0.0  # noqa: E731
    lower = within.copy()
    lower[:, 1:] = False
    return {"longest_boarder_min": top(within & plan.boarder), "longest_day_grades_1_3_min": top(lower),
            "longest_merged_child_min": top(moved), "longest_beyond_limits_min": top(pick & plan.beyond)}


def _longest(boarder_min: float, beyond: int) -> str:
    """The summary's longest boarder trip: of the boarders within the limits (none: nothing, rather than "0 min" when
    every boarder is a child beyond the limits, whose trips the beyond-limits clause gives)."""
    if boarder_min <= 0:
        return ""
    return f" (longest trip {boarder_min:.0f} min" + (", children beyond the limits aside)" if beyond else ")")


def run(ctx: Context, params: LayoutParams) -> StageOutput:
    """Plan the school layout; see the module docstring."""
    where = places(ctx, params)
    prob, year = build(ctx, params, where)
    ctx.step(f"layout: {len(prob.existing)} schools, {len(prob.children)} units, CP-SAT")
    solver = ctx.scenario.solver
    options = LayoutOptions(**{k: getattr(params, k) for k in LayoutOptions.model_fields})
    if params.strict:
        options = options.model_copy(update={"beyond_limits": "error"})
    plan = _solve(prob, options, params.deterministic_time_s, solver.time_limit_s, ctx.seed)
    res = LayoutResult(plan, year, ctx.inputs.blocks["block_id"].astype(str).to_numpy(), where["school_id"].to_numpy(), where["name"].to_numpy())
    files = _tables(ctx, res, params, where, reasons(ctx, prob, res, options))
    counts = pd.Series([d.decision for d in plan.decisions]).value_counts()
    boarders = int(prob.children[plan.boarder].sum())
    bus = int(prob.children[plan.bus].sum())
    beyond = int(prob.children[plan.beyond].sum())
    unserved = int(prob.children[plan.unserved].sum()) if plan.unserved is not None else 0
    trips = _trips(prob, plan)
    closed = sum(int(counts.get(k, 0)) for k in ("merge", "close"))
    metrics = {
        "year": year, "decisions": {k: int(v) for k, v in counts.items()}, "boarders": boarders, "bus_riders": bus,
        "objective_yuan": round(plan.objective), "bound_yuan": round(plan.bound), "gap": plan.gap, "status": plan.status,
        "costs_yuan": {k: round(v) for k, v in plan.costs.items()},
        "beyond_limits_children": {GROUPS[g]: int(prob.children[plan.beyond[:, g], g].sum()) for g in range(3)},
        "closed_share": round(closed / max(int(prob.existing.sum()), 1), 4), "unserved_children": unserved, **trips,
    }  # fmt: skip
    lines = [
        f"{year or 'today'}: " + ", ".join(f"{v} {k}" for k, v in counts.items())
        + f" ({closed} of {int(prob.existing.sum())} schools close, at most {params.max_close_share:.0%})",
        f"{boarders:,} children board{_longest(trips['longest_boarder_min'], beyond)}, {bus:,} ride a school bus; {beyond:,} have no "
        f"school within the limits (grades 1-3 ≤ {params.day_max_s / 60:.0f} min by day, grades 4-9 boarding ≤ "
        f"{params.boarding_max_s / 60:.0f} min) and go to the nearest"
        + (f" (longest trip {trips['longest_beyond_limits_min']:.0f} min)" if beyond else "")
        + (f"; {unserved:,} have no road to a school of their level and are not placed (shortfalls)" if unserved else ""),
        f"cost over {params.horizon_years} years {plan.objective / 1e6:,.1f} M yuan (construction {plan.costs['construction'] / 1e6:,.1f} M), "
        f"gap {plan.gap:.2%} ({plan.status})" if math.isfinite(plan.gap) else "",
    ]
    return StageOutput(files={**files, "metrics.json": metrics}, result=res, summary="\n".join(x for x in lines if x), metrics=metrics,
                       shortfalls=plan.shortfalls)


STAGE = Stage(
    name="layout",
    params=LayoutParams,
    run=run,
    result_type=LayoutResult,
    files=("decisions.csv", "assignment.csv", "costs.csv", "metrics.json"),
    needs=("schools", "blocks"),
    description="school layout (布局规划): keep, expand, shrink or merge schools for the target year, at least cost",
    command=Command("layout", "plan which schools to keep, expand, shrink or merge"),
)
