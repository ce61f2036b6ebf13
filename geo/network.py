"""Routable road networks built from line layers, OSM extracts or the demo generator.

:func:`build_network` turns a line layer (metric CRS, optional canonical
columns ``highway``, ``speed_kmh``, ``oneway``) into a :class:`RoadNetwork`:
nodes, edges and one directed sparse graph of travel seconds per mode.

Topology rule
-------------
Lines connect where they share a vertex (the usual case for OSM ways and for
GIS layers digitised with snapping). In addition, a line *endpoint* that lies
within ``join_tolerance_m`` (default 1 m) of another line's vertex is joined to
it: this repairs the small undershoots and overshoots of hand-digitised layers.
Lines that merely cross, with no shared vertex, stay unconnected: in road data
that is a bridge, an underpass or a flyover. Every line is then split at its
nodes (endpoints and shared vertices) into edges. Only the largest connected
piece of the network is kept; the pieces dropped are counted in
:attr:`RoadNetwork.report` (count, nodes, edges, length).

Modes and speeds
----------------
``walk``
    At ``walk_speed_kmh`` (4.5 km/h, children) on every walkable class: all
    classes but ``motorway``/``motorway_link`` (and ``busway``). Trunk roads stay
    walkable because rural 国道 are walked in practice. One-way is ignored.
``bike``, ``drive``, ``bus``
    By road class from :data:`SPEED_TABLE_KMH`. The ``speed_kmh`` column, where
    given, overrides the driving speed of that line and caps the bus speed;
    school buses never exceed 60 km/h (校车安全管理条例, 2012). One-way is
    honoured for ``drive`` and ``bus`` and ignored for ``walk`` and ``bike``.

A missing ``highway`` value is read as ``unclassified`` (a generic minor
public road); unknown values are read the same way and counted in the report.
Chinese class names (国道, 省道, 县道, 乡道, 村道, 城市主干路 ...) are accepted, see
:data:`CLASS_ALIASES`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.errors import InputError, Problem
from geo.policy import SCHOOL_BUS_MAX_KMH, WALK_SPEED_KMH

logger = logging.getLogger(__name__)

Mode = Literal["walk", "bike", "drive", "bus"]
MODES: tuple[Mode, ...] = get_args(Mode)
#: Modes that ignore one-way restrictions (people on foot or pushing a bike).
UNDIRECTED_MODES: frozenset[str] = frozenset({"walk", "bike"})

#: Speeds (km/h) by road class for ``bike``, ``drive`` and ``bus``; ``None`` = not allowed.
#: Drive speeds follow the design speeds of 公路工程技术标准 JTG B01-2014 and
#: 城市道路工程设计规范 CJJ 37-2012 for each class, reduced to typical running
#: speeds; bus speeds are lower (stops, children aboard) and capped at 60 km/h
#: (校车安全管理条例 2012); bike is 15 km/h on roads, slower off-road.
SPEED_TABLE_KMH: Mapping[str, Mapping[str, float | None]] = {
    "motorway": {"bike": None, "drive": 100.0, "bus": 60.0},
    "motorway_link": {"bike": None, "drive": 50.0, "bus": 40.0},
    "trunk": {"bike": 15.0, "drive": 80.0, "bus": 60.0},
    "trunk_link": {"bike": 15.0, "drive": 40.0, "bus": 35.0},
    "primary": {"bike": 15.0, "drive": 60.0, "bus": 50.0},
    "primary_link": {"bike": 15.0, "drive": 40.0, "bus": 35.0},
    "secondary": {"bike": 15.0, "drive": 50.0, "bus": 45.0},
    "secondary_link": {"bike": 15.0, "drive": 35.0, "bus": 30.0},
    "tertiary": {"bike": 15.0, "drive": 40.0, "bus": 35.0},
    "tertiary_link": {"bike": 15.0, "drive": 30.0, "bus": 25.0},
    "unclassified": {"bike": 15.0, "drive": 30.0, "bus": 30.0},
    "residential": {"bike": 15.0, "drive": 30.0, "bus": 25.0},
    "road": {"bike": 15.0, "drive": 30.0, "bus": 25.0},
    "living_street": {"bike": 12.0, "drive": 15.0, "bus": 15.0},
    "service": {"bike": 12.0, "drive": 20.0, "bus": 15.0},
    "track": {"bike": 10.0, "drive": 15.0, "bus": 15.0},
    "busway": {"bike": None, "drive": None, "bus": 40.0},
    "cycleway": {"bike": 15.0, "drive": None, "bus": None},
    "path": {"bike": 10.0, "drive": None, "bus": None},
    "trail": {"bike": 8.0, "drive": None, "bus": None},
    "bridleway": {"bike": 8.0, "drive": None, "bus": None},
    "footway": {"bike": 8.0, "drive": None, "bus": None},
    "pedestrian": {"bike": 8.0, "drive": None, "bus": None},
    "steps": {"bike": None, "drive": None, "bus": None},
    "corridor": {"bike": None, "drive": None, "bus": None},
    "elevator": {"bike": None, "drive": None, "bus": None},
}

#: Classes children do not walk on (grade-separated, no footway).
NOT_WALKABLE: frozenset[str] = frozenset({"motorway", "motorway_link", "busway"})

#: OSM ``highway`` values that are not usable roads; such lines are dropped (and counted).
NOT_ROUTABLE: frozenset[str] = frozenset(
    {"construction", "proposed", "abandoned", "disused", "razed", "planned", "platform",
     "raceway", "bus_stop", "rest_area", "services", "escape", "no", "emergency_bay"}
)  # fmt: skip

#: Chinese road-class names accepted in ``highway`` (公路 and 城市道路 classes).
CLASS_ALIASES: Mapping[str, str] = {
    "高速公路": "motorway",
    "高速": "motorway",
    "国道": "trunk",
    "快速路": "trunk",
    "一级公路": "primary",
    "省道": "primary",
    "主干路": "primary",
    "城市主干路": "primary",
    "二级公路": "secondary",
    "县道": "secondary",
    "次干路": "secondary",
    "城市次干路": "secondary",
    "三级公路": "tertiary",
    "乡道": "tertiary",
    "支路": "residential",
    "城市支路": "residential",
    "四级公路": "unclassified",
    "村道": "unclassified",
    "专用公路": "service",
    "机耕路": "track",
    "等外公路": "track",
    "人行道": "footway",
    "步行道": "footway",
    "小路": "path",
    "台阶": "steps",
}

#: Class given to lines without a (known) ``highway`` value.
DEFAULT_CLASS = "unclassified"

#: Line endpoints closer than this (m) to another line's vertex are joined to it.
DEFAULT_JOIN_TOLERANCE_M = 1.0

#: Snap distances above this (m) are reported as implausible.
DEFAULT_MAX_SNAP_M = 2000.0

#: Straight-line distance × this factor approximates road distance when no roads are given.
DEFAULT_DETOUR_FACTOR = 1.3

#: Smallest edge travel time (s): csgraph must not see zero-weight edges as absent.
_MIN_EDGE_S = 1e-6


class TravelOptions(BaseModel):
    """How :func:`geo.travel.travel_matrix` computes travel times: the one options object of the travel model.

    The scenario's ``[network]`` table (:class:`NetworkSettings`) is a ``TravelOptions``
    with the network and drawing settings added, so a stage hands it over as is.

    Example
    -------
    >>> from geo.travel import travel_matrix                                    # doctest: +SKIP
    >>> travel_matrix(blocks, schools, origin_id="block_id", dest_id="school_id",
    ...               network=net, mode="walk", options=TravelOptions(workers=2))  # doctest: +SKIP
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    detour_factor: float = Field(
        DEFAULT_DETOUR_FACTOR, ge=1.0, le=5.0, description="Road distance ≈ straight line × this, used where no roads are given."
    )
    walk_speed_kmh: float = Field(
        WALK_SPEED_KMH, gt=0, le=10,
        description="Walking speed (km/h, children): of the walk mode, and of the legs between a point and its road.",
    )  # fmt: skip
    max_snap_m: float = Field(
        DEFAULT_MAX_SNAP_M, gt=0,
        description="Blocks or schools farther than this (m) from a usable road are reported (their times still include the walk).",
    )  # fmt: skip
    workers: int = Field(
        1, ge=1, le=64,
        description="Worker processes for the shortest-path searches of large problems (results do not depend on it; "
        "a script using more than 1 needs the `if __name__ == \"__main__\":` guard).",
    )  # fmt: skip


class NetworkSettings(TravelOptions):
    """``[network]`` table of a scenario: travel modes and speeds.

    The travel settings (``detour_factor``, ``walk_speed_kmh``, ``max_snap_m``,
    ``workers``) are inherited from :class:`TravelOptions`, so these settings are
    passed to :func:`geo.travel.travel_matrix` as its ``options``.

    Attributes
    ----------
    mode_primary, mode_junior
        Mode children of each level travel by (primary children walk).
    detour_factor
        Road distance ≈ straight line × this, used where no roads are given.
    walk_speed_kmh
        Walking speed (children), default 4.5 km/h.
    speed_table
        Overrides of :data:`SPEED_TABLE_KMH`: road class → mode → km/h (``0``
        forbids the mode on that class; ``walk`` sets a per-class walking speed).
    join_tolerance_m
        Line endpoints this close to another line's vertex are joined.
    max_snap_m
        Blocks or schools farther than this from any road are reported.
    workers
        Worker processes computing shortest paths on large problems (results
        do not depend on it; small problems run in one process). A scenario
        run uses 2 by default, a direct call of the travel functions 1.
    isochrone_minutes
        Travel times (minutes) the ``network`` stage draws around every school
        (by the mode of its level); empty draws none.
    isochrone_buffer_m
        Half-width (m) of the band drawn around reached roads in isochrones.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode_primary: Mode = "walk"
    mode_junior: Mode = "walk"
    speed_table: dict[str, dict[Mode, float]] = Field(default_factory=dict)
    join_tolerance_m: float = Field(DEFAULT_JOIN_TOLERANCE_M, ge=0, le=50)
    # A scenario run is a script with the guard, so it searches in two processes by default.
    workers: int = Field(2, ge=1, le=64, description="Worker processes for the shortest-path searches of large problems.")
    isochrone_minutes: list[int] = Field(default_factory=list)
    isochrone_buffer_m: float = Field(50.0, gt=0, le=1000)

    @field_validator("isochrone_minutes")
    @classmethod
    def _minutes_valid(cls, minutes: list[int]) -> list[int]:
        bad = [m for m in minutes if not 1 <= m <= 180]
        if bad:
            msg = f"isochrone minutes must be between 1 and 180, got {bad}"
            raise ValueError(msg)
        return sorted(set(minutes))

    @field_validator("speed_table")
    @classmethod
    def _speeds_valid(cls, table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        bad = [f"{k}.{m}={v}" for k, row in table.items() for m, v in row.items() if not 0 <= v <= 200]
        if bad:
            msg = f"speeds must be between 0 and 200 km/h: {', '.join(bad)}"
            raise ValueError(msg)
        return table

    def mode_for(self, level: str) -> Mode:
        """Travel mode of a level."""
        return self.mode_primary if level == "primary" else self.mode_junior

    def network_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`build_network`."""
        return {
            "walk_speed_kmh": self.walk_speed_kmh,
            "speed_table": self.speed_table,
            "join_tolerance_m": self.join_tolerance_m,
        }


@dataclass(frozen=True)
class NetworkReport:
    """What building the network did to the input lines.

    Attributes
    ----------
    lines_in
        Line features read (after splitting multi-lines).
    lines_not_routable
        Lines dropped for a non-road class (``construction``, ``proposed`` ...).
    unknown_classes
        Unknown ``highway`` values (read as ``unclassified``) → line count.
    endpoints_joined
        Line endpoints moved onto a vertex within the join tolerance.
    components
        Connected pieces found; the largest is kept.
    components_dropped, nodes_dropped, edges_dropped, length_dropped_m
        The pieces left out and their size.
    """

    lines_in: int
    lines_not_routable: int
    unknown_classes: Mapping[str, int]
    endpoints_joined: int
    components: int
    components_dropped: int
    nodes_dropped: int
    edges_dropped: int
    length_dropped_m: float


@dataclass(frozen=True)
class ModeGraph:
    """Directed graph of one mode: arc ``i → j`` costs ``time_s`` seconds.

    Attributes
    ----------
    time_s
        ``(n_nodes, n_nodes)`` CSR matrix of arc travel seconds (fastest of
        parallel edges); sorted indices, no explicit zeros.
    arc_length_m
        Length of each stored arc, aligned with ``time_s.data``.
    uniform_speed_ms
        The mode's speed in m/s when every arc has the same speed, else ``None``
        (then distances are recovered from the shortest-path trees).
    """

    time_s: sparse.csr_matrix
    arc_length_m: NDArray[np.float64]
    uniform_speed_ms: float | None


@dataclass(frozen=True)
class RoadNetwork:
    """A routable road network in a metric CRS.

    Edge ``k`` runs from ``edge_u[k]`` to ``edge_v[k]`` along ``edge_geometry[k]``
    (drawn in that direction; a one-way edge is open u → v only).

    Attributes
    ----------
    node_xy
        ``(n_nodes, 2)`` node coordinates (m).
    edge_u, edge_v
        ``int32`` end nodes of each edge.
    edge_geometry
        Shapely line of each edge, from u to v.
    length_m
        Edge length (m).
    highway
        Road class of each edge (canonical OSM value).
    oneway
        Whether vehicles may only go u → v.
    speed_kmh
        Mode → speed of each edge (``nan`` where the mode may not use it).
    graphs
        Mode → :class:`ModeGraph`.
    crs
        The metric CRS.
    speed_table
        Class → mode → km/h actually used (``None`` = not allowed).
    walk_speed_kmh
        Walking speed, also used for the off-network legs.
    report
        What was dropped or repaired.
    """

    node_xy: NDArray[np.float64]
    edge_u: NDArray[np.int32]
    edge_v: NDArray[np.int32]
    edge_geometry: NDArray[np.object_]
    length_m: NDArray[np.float64]
    highway: NDArray[np.str_]
    oneway: NDArray[np.bool_]
    speed_kmh: Mapping[str, NDArray[np.float64]]
    graphs: Mapping[str, ModeGraph]
    crs: pyproj.CRS | None
    speed_table: Mapping[str, Mapping[str, float | None]]
    walk_speed_kmh: float
    report: NetworkReport
    _trees: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.edge_u)

    def usable(self, mode: str) -> NDArray[np.bool_]:
        """Edges the mode may travel on."""
        return ~np.isnan(self._speed(mode))

    def _speed(self, mode: str) -> NDArray[np.float64]:
        if mode not in self.speed_kmh:
            msg = f"unknown mode {mode!r}; expected one of {sorted(self.speed_kmh)}"
            raise ValueError(msg)
        return self.speed_kmh[mode]

    def edge_time_s(self, mode: str) -> NDArray[np.float64]:
        """Travel time of each edge by ``mode`` (``nan`` where not allowed)."""
        return self.length_m / (self._speed(mode) / 3.6)

    def edges_frame(self) -> gpd.GeoDataFrame:
        """One row per edge: ids, class, one-way, length and speed per mode."""
        data: dict[str, Any] = {
            "edge": np.arange(self.n_edges),
            "u": self.edge_u,
            "v": self.edge_v,
            "highway": self.highway,
            "oneway": self.oneway,
            "length_m": self.length_m,
        }
        for mode in MODES:
            data[f"{mode}_kmh"] = self.speed_kmh[mode]
        return gpd.GeoDataFrame(data, geometry=list(self.edge_geometry), crs=self.crs)

    def nodes_frame(self) -> gpd.GeoDataFrame:
        """One point per node, with its degree."""
        deg = np.bincount(np.r_[self.edge_u, self.edge_v], minlength=self.n_nodes)
        return gpd.GeoDataFrame(
            {"node": np.arange(self.n_nodes), "degree": deg},
            geometry=shapely.points(self.node_xy),
            crs=self.crs,
        )

    def snap(self, xy: NDArray[np.float64], *, mode: str) -> Snap:
        """Snap points to the nearest point of an edge the mode may use.

        Parameters
        ----------
        xy
            ``(n, 2)`` coordinates (m) in the network's CRS.
        mode
            Travel mode; only its usable edges are candidates.

        Returns
        -------
        Snap
        """
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        usable = np.flatnonzero(self.usable(mode))
        if len(usable) == 0:
            msg = f"the road network has no edge usable by mode {mode!r}"
            raise InputError([Problem("roads", msg, column="highway")])
        if mode not in self._trees:
            self._trees[mode] = shapely.STRtree(self.edge_geometry[usable])
        tree = self._trees[mode]
        pts = shapely.points(xy)
        (ipt, itree), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        edge = np.empty(len(xy), dtype=np.int32)
        offset = np.empty(len(xy), dtype=np.float64)
        edge[ipt] = usable[itree]
        offset[ipt] = dist
        along = shapely.line_locate_point(self.edge_geometry[edge], pts)
        frac = np.clip(np.divide(along, self.length_m[edge], out=np.zeros(len(xy)), where=self.length_m[edge] > 0), 0, 1)
        on = shapely.get_coordinates(shapely.line_interpolate_point(self.edge_geometry[edge], along))
        return Snap(edge=edge, frac=frac, offset_m=offset, point_xy=on.reshape(-1, 2))

    def summary(self) -> dict[str, Any]:
        """Plain-data description: size, speeds, what was dropped."""
        r = self.report
        return {
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "length_km": round(float(self.length_m.sum()) / 1000, 3),
            "walk_speed_kmh": self.walk_speed_kmh,
            "speed_table_kmh": {k: dict(v) for k, v in sorted(self.speed_table.items())},
            "edges_by_class": {k: int(v) for k, v in sorted(pd.Series(self.highway).value_counts().items())},
            "oneway_edges": int(self.oneway.sum()),
            "lines_in": r.lines_in,
            "lines_not_routable": r.lines_not_routable,
            "unknown_classes": dict(sorted(r.unknown_classes.items())),
            "endpoints_joined": r.endpoints_joined,
            "components": r.components,
            "components_dropped": r.components_dropped,
            "nodes_dropped": r.nodes_dropped,
            "edges_dropped": r.edges_dropped,
            "length_dropped_km": round(r.length_dropped_m / 1000, 3),
        }


@dataclass(frozen=True)
class Snap:
    """Points snapped onto network edges.

    Attributes
    ----------
    edge
        Edge each point lies nearest to.
    frac
        Position of the snapped point along the edge, 0 at u, 1 at v.
    offset_m
        Straight distance from the point to the edge (the off-network leg).
    point_xy
        ``(n, 2)`` snapped points on the edges.
    """

    edge: NDArray[np.int32]
    frac: NDArray[np.float64]
    offset_m: NDArray[np.float64]
    point_xy: NDArray[np.float64]


def resolve_speed_table(
    overrides: Mapping[str, Mapping[str, float]] | None = None, *, walk_speed_kmh: float = WALK_SPEED_KMH
) -> dict[str, dict[str, float | None]]:
    """The class → mode → km/h table in use: defaults, then ``overrides``.

    Parameters
    ----------
    overrides
        Class → mode → km/h; ``0`` forbids the mode on the class. Bus speeds
        stay capped at :data:`geo.policy.SCHOOL_BUS_MAX_KMH`.
    walk_speed_kmh
        Walking speed on walkable classes.

    Returns
    -------
    dict
    """
    overrides = overrides or {}
    bad = [m for row in overrides.values() for m in row if m not in MODES]
    if bad:
        msg = f"unknown mode(s) {sorted(set(bad))} in the speed table; expected {list(MODES)}"
        raise InputError([Problem("network", msg, column="speed_table")])
    out: dict[str, dict[str, float | None]] = {}
    for cls in sorted(set(SPEED_TABLE_KMH) | set(overrides)):
        base = SPEED_TABLE_KMH.get(cls, SPEED_TABLE_KMH[DEFAULT_CLASS])
        row: dict[str, float | None] = {"walk": None if cls in NOT_WALKABLE else walk_speed_kmh, **base}
        for m, v in overrides.get(cls, {}).items():
            row[m] = float(v) if v and v > 0 else None
        if row["bus"] is not None:
            row["bus"] = min(row["bus"], float(SCHOOL_BUS_MAX_KMH))
        out[cls] = row
    return out


def _classes(roads: gpd.GeoDataFrame, table: Mapping[str, Any]) -> tuple[NDArray[np.str_], dict[str, int]]:
    """Canonical class of each line and the unknown values met."""
    if "highway" not in roads.columns:
        return np.full(len(roads), DEFAULT_CLASS, dtype=object).astype(str), {}
    def canon(v: object) -> str | None:
        if not isinstance(v, str) or not v.strip():
            return None
        v = v.strip()
        return CLASS_ALIASES.get(v, v.lower())

    cls = pd.Series([canon(v) for v in roads["highway"].tolist()], dtype=object)
    known = cls.isin(list(table)) | cls.isin(list(NOT_ROUTABLE))
    unknown = cls.notna() & ~known
    counts = {str(k): int(v) for k, v in cls[unknown].value_counts().items()}
    cls = cls.where(known, DEFAULT_CLASS)
    return cls.astype(str).to_numpy(dtype=str), counts


def _oneway(roads: gpd.GeoDataFrame) -> NDArray[np.bool_]:
    if "oneway" not in roads.columns:
        return np.zeros(len(roads), dtype=bool)
    col = roads["oneway"]
    if pd.api.types.is_bool_dtype(col.dtype) and not col.isna().any():
        return col.to_numpy(dtype=bool)
    text = col.astype("string").str.strip().str.lower()
    return text.isin(["true", "1", "yes", "y", "是", "1.0"]).fillna(False).to_numpy(dtype=bool)


def _speed_override(roads: gpd.GeoDataFrame) -> NDArray[np.float64]:
    if "speed_kmh" not in roads.columns:
        return np.full(len(roads), np.nan)
    s = pd.to_numeric(roads["speed_kmh"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(s > 0, s, np.nan)


def _validate(roads: gpd.GeoDataFrame) -> None:
    problems: list[Problem] = []
    if not isinstance(roads, gpd.GeoDataFrame):
        raise InputError([Problem("roads", f"expected a GeoDataFrame of lines, got {type(roads).__name__}")])
    if roads.crs is not None and not roads.crs.is_projected:
        problems.append(Problem("roads", f"roads must be in a projected metric CRS, got {roads.crs.name!r}"))
    gt = shapely.get_type_id(roads.geometry.values)
    bad = np.flatnonzero(~np.isin(gt, [1, 5]) & ~shapely.is_missing(roads.geometry.values))
    problems.extend(
        Problem("roads", f"geometry must be a line, got {roads.geometry.iloc[i].geom_type}", row=int(i) + 1) for i in bad[:20]
    )
    if len(bad) > 20:
        problems.append(Problem("roads", f"... and {len(bad) - 20} more non-line geometries"))
    if problems:
        raise InputError(problems)


def build_network(
    roads: gpd.GeoDataFrame,
    *,
    walk_speed_kmh: float = WALK_SPEED_KMH,
    speed_table: Mapping[str, Mapping[str, float]] | None = None,
    join_tolerance_m: float = DEFAULT_JOIN_TOLERANCE_M,
) -> RoadNetwork:
    """Build a routable network from road lines in a metric CRS.

    See the module docstring for the topology rule, the modes and the speeds.

    Parameters
    ----------
    roads
        Lines (or multi-lines) with optional columns ``highway``, ``speed_kmh``
        (driving speed) and ``oneway`` (vehicles only along the drawing direction).
    walk_speed_kmh
        Walking speed.
    speed_table
        Overrides of :data:`SPEED_TABLE_KMH` (class → mode → km/h).
    join_tolerance_m
        Endpoints within this distance of another line's vertex are joined to it.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    InputError
        When the layer is not lines in a metric CRS, or no road is left.
    """
    _validate(roads)
    table = resolve_speed_table(speed_table, walk_speed_kmh=walk_speed_kmh)
    lines = _routable_lines(roads, table)
    coords, line_of = shapely.get_coordinates(lines.frame.geometry.values, return_index=True)
    coords = coords[:, :2]
    if len(coords) == 0:
        raise InputError([Problem("roads", "no routable road lines in the layer")])
    topo = _noded(coords, line_of, join_tolerance_m)
    edges, report = _largest_piece(_split_at_nodes(topo), lines, joined=topo.joined)
    # Speeds per mode.
    ecls = lines.cls[edges.line]
    speeds = _edge_speeds(ecls, lines.override[edges.line], table)
    eoneway = lines.oneway[edges.line]
    graphs: dict[str, ModeGraph] = {
        mode: _mode_graph(edges.u, edges.v, edges.length_m, speeds[mode], eoneway & (mode not in UNDIRECTED_MODES), len(edges.node_xy))
        for mode in MODES
    }
    net = RoadNetwork(
        node_xy=edges.node_xy,
        edge_u=edges.u,
        edge_v=edges.v,
        edge_geometry=edges.geometry,
        length_m=edges.length_m,
        highway=ecls,
        oneway=eoneway,
        speed_kmh=speeds,
        graphs=graphs,
        crs=roads.crs,
        speed_table=table,
        walk_speed_kmh=walk_speed_kmh,
        report=report,
    )
    logger.info("road network: %d nodes, %d edges, %.1f km", net.n_nodes, net.n_edges, edges.length_m.sum() / 1000)
    return net


@dataclass(frozen=True)
class _Lines:
    """The routable single lines of a roads layer, with their class, one-way flag and speed override."""

    frame: gpd.GeoDataFrame
    cls: NDArray[np.str_]
    oneway: NDArray[np.bool_]
    override: NDArray[np.float64]
    n_in: int
    n_not_routable: int
    unknown: dict[str, int]


def _routable_lines(roads: gpd.GeoDataFrame, table: Mapping[str, Any]) -> _Lines:
    """Single lines, empty ones dropped, then those of a non-road class dropped."""
    lines = roads.reset_index(drop=True).explode(index_parts=False, ignore_index=True)
    lines = lines[~lines.geometry.is_empty & lines.geometry.notna()].reset_index(drop=True)
    n_in = len(lines)
    cls, unknown = _classes(lines, table)
    routable = ~np.isin(cls, list(NOT_ROUTABLE))
    lines, cls = lines[routable].reset_index(drop=True), cls[routable]
    return _Lines(lines, cls, _oneway(lines), _speed_override(lines), n_in, int((~routable).sum()), unknown)


@dataclass(frozen=True)
class _Topology:
    """Every line vertex as a network vertex id (shared and joined vertices merged)."""

    uniq: NDArray[np.float64]  # (n_vertices, 2) distinct coordinates
    vid: NDArray[np.int64]  # vertex id of each kept line vertex
    pos: NDArray[np.float64]  # its (joined) position
    line_of: NDArray[np.int64]  # its line
    joined: int  # endpoints moved onto another vertex


def _noded(coords: NDArray[np.float64], line_of: NDArray[np.int64], join_tolerance_m: float) -> _Topology:
    """Merge shared vertices, join endpoints within the tolerance, drop the zero-length steps this leaves."""
    # 1. Exact shared vertices: unique coordinates.
    uniq, vid = np.unique(coords, axis=0, return_inverse=True)
    vid = vid.ravel()
    first = np.r_[True, line_of[1:] != line_of[:-1]]
    last = np.r_[line_of[1:] != line_of[:-1], True]
    is_end = first | last
    # 2. Join endpoints to any vertex within the tolerance (union-find via components).
    joined = 0
    label = np.arange(len(uniq))
    if join_tolerance_m > 0:
        label, joined = _join_endpoints(uniq, vid, is_end, join_tolerance_m)
    vid = label[vid]
    pos = uniq[vid]
    # Drop consecutive repeats within a line (zero-length segments after joining).
    dup = np.r_[False, (vid[1:] == vid[:-1]) & (line_of[1:] == line_of[:-1])]
    return _Topology(uniq=uniq, vid=vid[~dup], pos=pos[~dup], line_of=line_of[~dup], joined=joined)


def _join_endpoints(
    uniq: NDArray[np.float64], vid: NDArray[np.int64], is_end: NDArray[np.bool_], join_tolerance_m: float
) -> tuple[NDArray[np.int64], int]:
    """Vertex → representative vertex after joining endpoints to vertices within the tolerance; endpoints moved."""
    label = np.arange(len(uniq))
    end_v = np.unique(vid[is_end])
    pairs = cKDTree(uniq[end_v]).query_ball_point(uniq, r=join_tolerance_m, return_sorted=True)
    rows = np.repeat(np.arange(len(uniq)), [len(p) for p in pairs])
    cols = end_v[np.concatenate([np.asarray(p, dtype=np.int64) for p in pairs])] if len(rows) else np.empty(0, np.int64)
    keep = rows != cols
    if not keep.any():
        return label, 0
    g = sparse.coo_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(len(uniq), len(uniq)))
    _, label = connected_components(g, directed=False)
    # Representative of each cluster: a vertex that is not only an endpoint if any, else the first.
    only_end = np.ones(len(uniq), dtype=bool)
    only_end[vid[~is_end]] = False
    order = np.lexsort((np.arange(len(uniq)), only_end, label))
    rep_of_label = np.empty(label.max() + 1, dtype=np.int64)
    rep_of_label[label[order[::-1]]] = order[::-1]
    label = rep_of_label[label]
    return label, int(np.count_nonzero(label[end_v] != end_v))


@dataclass(frozen=True)
class _Edges:
    """Edges as runs ``a..b`` of vertex positions ``pos``, between vertex ids ``u`` and ``v``."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    length_m: NDArray[np.float64]
    u: NDArray[np.int64]
    v: NDArray[np.int64]
    line: NDArray[np.int64]
    pos: NDArray[np.float64]
    vertex_xy: NDArray[np.float64]


@dataclass(frozen=True)
class _Kept:
    """The edges of the network: nodes renumbered, geometries drawn."""

    node_xy: NDArray[np.float64]
    u: NDArray[np.int32]
    v: NDArray[np.int32]
    geometry: NDArray[np.object_]
    length_m: NDArray[np.float64]
    line: NDArray[np.int64]


def _split_at_nodes(topo: _Topology) -> _Edges:
    """Nodes (endpoints and vertices used more than once) and the edges between consecutive nodes of a line."""
    vid, pos, line_of = topo.vid, topo.pos, topo.line_of
    first = np.r_[True, line_of[1:] != line_of[:-1]]
    last = np.r_[line_of[1:] != line_of[:-1], True]
    # 3. Nodes: endpoints and vertices used more than once.
    count = np.bincount(vid, minlength=len(topo.uniq))
    node_v = np.zeros(len(topo.uniq), dtype=bool)
    node_v[vid[first | last]] = True
    node_v[count >= 2] = True
    at_node = node_v[vid]
    # 4. Edges: runs between consecutive nodes of the same line.
    npos = np.flatnonzero(at_node)
    same = line_of[npos[1:]] == line_of[npos[:-1]]
    a, b = npos[:-1][same], npos[1:][same]
    seg = np.r_[np.hypot(*(pos[1:] - pos[:-1]).T), 0.0]
    seg[last] = 0.0
    cum = np.r_[0.0, np.cumsum(seg)[:-1]]
    length = cum[b] - cum[a]
    eu, ev = vid[a], vid[b]
    keep = length > 0
    a, b, length, eu, ev = a[keep], b[keep], length[keep], eu[keep], ev[keep]
    return _Edges(a=a, b=b, length_m=length, u=eu, v=ev, line=line_of[a], pos=pos, vertex_xy=topo.uniq)


def _largest_piece(edges: _Edges, lines: _Lines, *, joined: int) -> tuple[_Kept, NetworkReport]:
    """The edges of the largest connected piece, renumbered, with their geometries; and the report."""
    eu, ev, length = edges.u, edges.v, edges.length_m
    # 5. Largest connected component.
    nodes_used, inv = np.unique(np.r_[eu, ev], return_inverse=True)
    eu_i, ev_i = inv[: len(eu)], inv[len(eu) :]
    n = len(nodes_used)
    adj = sparse.coo_matrix((np.ones(len(eu_i)), (eu_i, ev_i)), shape=(n, n))
    n_comp, comp = connected_components(adj, directed=False)
    sizes = np.bincount(comp, minlength=n_comp)
    big = int(np.argmax(sizes))
    ecomp = comp[eu_i]
    ekeep = ecomp == big
    report = NetworkReport(
        lines_in=lines.n_in,
        lines_not_routable=lines.n_not_routable,
        unknown_classes=lines.unknown,
        endpoints_joined=joined,
        components=int(n_comp),
        components_dropped=int(n_comp - 1),
        nodes_dropped=int(n - sizes[big]),
        edges_dropped=int((~ekeep).sum()),
        length_dropped_m=float(length[~ekeep].sum()),
    )
    if n_comp > 1:
        logger.info(
            "road network: kept the largest of %d pieces; dropped %d pieces (%d edges, %.1f km)",
            n_comp, n_comp - 1, report.edges_dropped, report.length_dropped_m / 1000,
        )  # fmt: skip
    a, b, length, eline = edges.a[ekeep], edges.b[ekeep], length[ekeep], edges.line[ekeep]
    kept_nodes = np.flatnonzero(comp == big)
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[kept_nodes] = np.arange(len(kept_nodes))
    eu_n = new_id[eu_i[ekeep]].astype(np.int32)
    ev_n = new_id[ev_i[ekeep]].astype(np.int32)
    node_xy = edges.vertex_xy[nodes_used[kept_nodes]]
    # Edge geometries: coordinates a..b inclusive.
    counts = b - a + 1
    idx = np.repeat(a - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    geoms = shapely.linestrings(edges.pos[idx], indices=np.repeat(np.arange(len(a)), counts))
    return _Kept(node_xy=node_xy, u=eu_n, v=ev_n, geometry=geoms, length_m=length, line=eline), report


def _edge_speeds(
    ecls: NDArray[np.str_], ov: NDArray[np.float64], table: Mapping[str, Mapping[str, float | None]]
) -> dict[str, NDArray[np.float64]]:
    """Speed (km/h) of each edge per mode: the class speed, the line's override for drive (and as a cap for bus)."""
    speeds: dict[str, NDArray[np.float64]] = {}
    for mode in MODES:
        col = np.array([np.nan if table[c][mode] is None else table[c][mode] for c in ecls], dtype=np.float64)
        speeds[mode] = col
    has_ov = ~np.isnan(ov) & ~np.isnan(speeds["drive"])
    speeds["drive"] = np.where(has_ov, ov, speeds["drive"])
    speeds["bus"] = np.where(~np.isnan(ov) & ~np.isnan(speeds["bus"]), np.fmin(speeds["bus"], ov), speeds["bus"])
    return speeds


def _mode_graph(
    u: NDArray[np.int32],
    v: NDArray[np.int32],
    length_m: NDArray[np.float64],
    speed_kmh: NDArray[np.float64],
    oneway: NDArray[np.bool_],
    n_nodes: int,
) -> ModeGraph:
    """Directed CSR graph of travel seconds; parallel arcs keep the fastest."""
    ok = ~np.isnan(speed_kmh) & (u != v)
    time = length_m / (speed_kmh / 3.6)
    fwd = np.flatnonzero(ok)
    back = np.flatnonzero(ok & ~oneway)
    rows = np.r_[u[fwd], v[back]].astype(np.int64)
    cols = np.r_[v[fwd], u[back]].astype(np.int64)
    t = np.r_[time[fwd], time[back]]
    ln = np.r_[length_m[fwd], length_m[back]]
    graph, ln = arcs_to_csr(rows, cols, t, ln, n_nodes)
    used = np.unique(speed_kmh[ok])
    uniform = float(used[0]) / 3.6 if len(used) == 1 else None
    return ModeGraph(time_s=graph, arc_length_m=ln, uniform_speed_ms=uniform)


def arcs_to_csr(
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    time_s: NDArray[np.float64],
    length_m: NDArray[np.float64],
    n_nodes: int,
) -> tuple[sparse.csr_matrix, NDArray[np.float64]]:
    """CSR matrix of arc seconds keeping the fastest of parallel arcs, and its arc lengths.

    Parameters
    ----------
    rows, cols
        Tail and head node of each arc.
    time_s, length_m
        Travel time (clamped to a tiny positive value) and length of each arc.
    n_nodes
        Matrix size.

    Returns
    -------
    tuple
        ``(graph, arc_length_m)``, the lengths aligned with ``graph.data``;
        indices sorted within rows.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    t = np.maximum(np.asarray(time_s, dtype=np.float64), _MIN_EDGE_S)
    ln = np.asarray(length_m, dtype=np.float64)
    order = np.lexsort((ln, t, cols, rows))
    rows, cols, t, ln = rows[order], cols[order], t[order], ln[order]
    firsts = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])] if len(rows) else np.zeros(0, bool)
    rows, cols, t, ln = rows[firsts], cols[firsts], t[firsts], ln[firsts]
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n_nodes))]
    graph = sparse.csr_matrix((t, cols.astype(np.int32), indptr), shape=(n_nodes, n_nodes))
    return graph, ln
