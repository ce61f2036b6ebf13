"""The ``network`` stage: which roads, modes and speeds the plan's travel times use.

Writes ``summary.json`` (travel basis, mode per level, speed table, nodes,
edges, pieces kept and dropped, snapping statistics per mode),
``far_from_road.csv`` (schools and blocks farther than ``max_snap_m`` from a
usable road) and, when ``[network] isochrone_minutes`` is set, ``isochrones.gpkg``.
Without roads it still writes ``summary.json``, saying travel is straight line
× detour factor.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.isochrones import isochrones
from geo.model import LEVELS
from geo.network import RoadNetwork
from geo.travel import STRAIGHT_LINE_SPEED_KMH, representative_xy
from planning.app.stage import Context, Stage, StageOutput, StageParams

logger = logging.getLogger(__name__)


class NetworkParams(StageParams):
    """Parameters of the ``network`` stage.

    The stage has no table of its own: ``[network]`` is the scenario's network
    settings (:class:`geo.network.NetworkSettings`: modes, speeds,
    ``isochrone_minutes`` ...), which every stage's travel times use.
    """


def _stats(offset_m: np.ndarray, max_snap_m: float) -> dict[str, Any]:
    if len(offset_m) == 0:
        return {"count": 0}
    return {
        "count": len(offset_m),
        "mean_m": round(float(offset_m.mean()), 1),
        "median_m": round(float(np.median(offset_m)), 1),
        "p95_m": round(float(np.percentile(offset_m, 95)), 1),
        "max_m": round(float(offset_m.max()), 1),
        "over_max_snap": int((offset_m > max_snap_m).sum()),
    }


def _layers(ctx: Context) -> list[tuple[str, str, gpd.GeoDataFrame]]:
    """(layer, id column, frame) of the points snapped: schools and blocks."""
    out = [("schools", "school_id", ctx.inputs.schools)]
    blocks = ctx.inputs.blocks
    if blocks is not None and len(blocks):
        out.append(("blocks", "block_id", blocks))
    return out


def run(ctx: Context, params: NetworkParams) -> StageOutput:
    """Describe the travel basis; snap schools and blocks; draw isochrones."""
    settings = ctx.scenario.network
    modes = {level: settings.mode_for(level) for level in LEVELS}
    net: RoadNetwork | None = ctx.network
    files: dict[str, Any] = {}
    summary: dict[str, Any] = {"modes": modes, "walk_speed_kmh": settings.walk_speed_kmh}
    far_rows: list[dict[str, Any]] = []
    if net is None:
        speeds = {**STRAIGHT_LINE_SPEED_KMH, "walk": settings.walk_speed_kmh}
        summary |= {
            "travel": "straight line",
            "detour_factor": settings.detour_factor,
            "note": f"no roads given: travel = straight line × {settings.detour_factor:g} at a speed per mode",
            "speed_kmh": {m: speeds[m] for m in sorted(set(modes.values()))},
        }
        text = f"no roads: straight line × {settings.detour_factor:g}; primary {modes['primary']}, junior {modes['junior']}"
        metrics: dict[str, Any] = {"travel": "straight line", **{f"mode_{k}": v for k, v in modes.items()}}
    else:
        summary |= {"travel": "road network", "join_tolerance_m": settings.join_tolerance_m,
                    "max_snap_m": settings.max_snap_m, **net.summary()}  # fmt: skip
        snapping: dict[str, Any] = {}
        for mode in sorted(set(modes.values())):
            snapping[mode] = {}
            for layer, id_col, frame in _layers(ctx):
                snap = net.snap(representative_xy(frame), mode=mode)
                snapping[mode][layer] = _stats(snap.offset_m, settings.max_snap_m)
                far = np.flatnonzero(snap.offset_m > settings.max_snap_m)
                ids = frame[id_col].astype(str).to_numpy()
                far_rows.extend({"mode": mode, "layer": layer, "id": ids[i], "snap_m": round(float(snap.offset_m[i]), 1)} for i in far)
        summary["snapping"] = snapping
        r = net.report
        text = (
            f"road network {net.n_nodes} nodes, {net.n_edges} edges, {net.length_m.sum() / 1000:.1f} km"
            f" (dropped {r.components_dropped} unconnected pieces, {r.length_dropped_m / 1000:.1f} km);"
            f" primary {modes['primary']}, junior {modes['junior']}"
        )
        if far_rows:
            text += f"; {len(far_rows)} points > {settings.max_snap_m:g} m from a road"
        metrics = {
            "travel": "road network",
            "nodes": net.n_nodes,
            "edges": net.n_edges,
            "components_dropped": r.components_dropped,
            "far_from_road": len(far_rows),
            **{f"mode_{k}": v for k, v in modes.items()},
        }
        files["far_from_road.csv"] = pd.DataFrame(far_rows, columns=["mode", "layer", "id", "snap_m"]).sort_values(
            ["mode", "layer", "id"], kind="stable"
        )
        if settings.isochrone_minutes:
            files["isochrones.gpkg"] = _isochrones(ctx, net)
    files["summary.json"] = summary
    return StageOutput(files=files, result=net, summary=text, metrics=metrics)


def _isochrones(ctx: Context, net: RoadNetwork) -> gpd.GeoDataFrame:
    settings = ctx.scenario.network
    schools = ctx.inputs.schools
    level = schools["level"].astype(str).to_numpy() if "level" in schools.columns else np.full(len(schools), "primary")
    parts = []
    for lv in ("primary", "junior", "nine_year"):
        sel = level == lv
        if not sel.any():
            continue
        mode = settings.mode_for("junior" if lv == "junior" else "primary")
        sub = schools[sel]
        ctx.step(f"isochrones of {int(sel.sum())} {lv} schools ({mode})")
        iso = isochrones(
            net,
            sub["school_id"].astype(str).to_numpy(),
            representative_xy(sub),
            minutes=settings.isochrone_minutes,
            mode=mode,
            walk_speed_kmh=settings.walk_speed_kmh,
            buffer_m=settings.isochrone_buffer_m,
        )
        parts.append(iso)
    out = pd.concat(parts, ignore_index=True) if parts else isochrones(net, [], np.empty((0, 2)), minutes=[1])
    return gpd.GeoDataFrame(out, geometry="geometry", crs=net.crs).sort_values(["school_id", "minutes"], kind="stable").reset_index(drop=True)


STAGE = Stage(
    name="network",
    params=NetworkParams,
    run=run,
    result_type=RoadNetwork,
    files=("summary.json", "far_from_road.csv", "isochrones.gpkg"),
    needs=("schools",),
    description="road network, travel modes and speeds used for travel times; optional isochrones",
)
