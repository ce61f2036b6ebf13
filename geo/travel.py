"""Block × school travel matrices: the cost data every model stands on.

A :class:`TravelMatrix` is a sparse list of reachable (origin, destination)
pairs with integer travel time (s) and distance (m). A pair that is not listed
is unreachable (or beyond the cutoff): never silently zero.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from geo.errors import InputError, Problem
from geo.network import DEFAULT_DETOUR_FACTOR, UNDIRECTED_MODES, RoadNetwork, TravelOptions, arcs_to_csr
from geo.policy import WALK_SPEED_KMH

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TravelMatrix:
    """Reachable origin–destination pairs with travel time and distance.

    Attributes
    ----------
    origin_ids, dest_ids
        Ids of origins (blocks) and destinations (schools), as strings.
    origin, dest
        ``int32`` indices into ``origin_ids``/``dest_ids`` of each reachable
        pair, sorted by origin then destination.
    time_s, dist_m
        ``int32`` travel time in seconds and distance in metres of each pair.
    mode
        Travel mode (``walk``, ``bike``, ``drive``, ``bus``, ``straight``).
    origin_snap_m, dest_snap_m
        With a road network: distance (m) from each origin/destination to the
        road it was snapped to (walked at walking speed and included in the
        pairs' time and distance); ``None`` for straight-line matrices.
    """

    origin_ids: NDArray[np.str_]
    dest_ids: NDArray[np.str_]
    origin: NDArray[np.int32]
    dest: NDArray[np.int32]
    time_s: NDArray[np.int32]
    dist_m: NDArray[np.int32]
    mode: str
    origin_snap_m: NDArray[np.float64] | None = None
    dest_snap_m: NDArray[np.float64] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(number of origins, number of destinations)."""
        return (len(self.origin_ids), len(self.dest_ids))

    @property
    def n_pairs(self) -> int:
        """Number of reachable pairs."""
        return len(self.origin)

    def dense(self, what: str = "time_s", fill: float = np.inf) -> NDArray[np.float64]:
        """Dense ``(n_origins, n_dests)`` array of ``time_s`` or ``dist_m``; ``fill`` where unreachable."""
        out = np.full(self.shape, fill, dtype=np.float64)
        out[self.origin, self.dest] = getattr(self, what)
        return out

    def reindex(self, origin_ids: ArrayLike, dest_ids: ArrayLike | None = None) -> TravelMatrix:
        """The same pairs with origins and destinations renumbered to the given (unique) ids, in their order.

        Pairs whose origin or destination is not among the given ids are dropped; a given id this
        matrix does not know has no pairs (unreachable). ``dest_ids`` defaults to ``origin_ids``
        (a schools × schools matrix looked up among a subset of schools).

        Example
        -------
        >>> among = travel.reindex(ids)                   # doctest: +SKIP
        >>> among.dense("time_s")                         # (len(ids), len(ids)), inf where unreachable  # doctest: +SKIP
        """
        o_ids = np.asarray(origin_ids).astype(str)
        d_ids = o_ids if dest_ids is None else np.asarray(dest_ids).astype(str)
        o_map = pd.Index(o_ids).get_indexer(self.origin_ids)
        d_map = pd.Index(d_ids).get_indexer(self.dest_ids)
        o_new, d_new = o_map[self.origin], d_map[self.dest]
        keep = (o_new >= 0) & (d_new >= 0)
        order = np.lexsort((d_new[keep], o_new[keep]))
        return TravelMatrix(
            origin_ids=o_ids,
            dest_ids=d_ids,
            origin=o_new[keep][order].astype(np.int32),
            dest=d_new[keep][order].astype(np.int32),
            time_s=self.time_s[keep][order],
            dist_m=self.dist_m[keep][order],
            mode=self.mode,
            origin_snap_m=_reindex_snap(self.origin_snap_m, self.origin_ids, o_ids),
            dest_snap_m=_reindex_snap(self.dest_snap_m, self.dest_ids, d_ids),
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per reachable pair: ``origin_id, dest_id, time_s, dist_m``."""
        return pd.DataFrame(
            {
                "origin_id": self.origin_ids[self.origin],
                "dest_id": self.dest_ids[self.dest],
                "time_s": self.time_s,
                "dist_m": self.dist_m,
            }
        )


def _reindex_snap(snap: NDArray[np.float64] | None, ids: NDArray[np.str_], new_ids: NDArray[np.str_]) -> NDArray[np.float64] | None:
    """Snap distances of ``ids`` in the order of ``new_ids`` (NaN for an id not among ``ids``)."""
    if snap is None:
        return None
    pos = pd.Index(ids).get_indexer(new_ids)
    return np.where(pos >= 0, snap[pos], np.nan)


def straight_line_matrix(
    origin_ids: NDArray[np.str_],
    origin_xy: NDArray[np.float64],
    dest_ids: NDArray[np.str_],
    dest_xy: NDArray[np.float64],
    *,
    speed_kmh: float = WALK_SPEED_KMH,
    detour_factor: float = DEFAULT_DETOUR_FACTOR,
    cutoff_s: float | None = None,
    mode: str = "straight",
) -> TravelMatrix:
    """Travel matrix from straight-line distances in a metric CRS.

    Parameters
    ----------
    origin_ids, dest_ids
        Ids of origins and destinations.
    origin_xy, dest_xy
        ``(n, 2)`` coordinates in metres.
    speed_kmh
        Travel speed along the detoured line.
    detour_factor
        Road distance ≈ straight-line distance × this factor.
    cutoff_s
        Pairs slower than this are left out (unreachable); ``None`` keeps all.
    mode
        Label stored on the result.

    Returns
    -------
    TravelMatrix
    """
    if speed_kmh <= 0 or detour_factor < 1:
        msg = f"speed_kmh must be > 0 and detour_factor ≥ 1, got {speed_kmh}, {detour_factor}"
        raise ValueError(msg)
    origin_xy = np.asarray(origin_xy, dtype=np.float64).reshape(-1, 2)
    dest_xy = np.asarray(dest_xy, dtype=np.float64).reshape(-1, 2)
    speed_ms = speed_kmh / 3.6
    origins, dests, dists = [], [], []
    # Chunk over origins so memory stays ~ chunk × n_dests.
    chunk = max(1, 2_000_000 // max(len(dest_xy), 1))
    for start in range(0, len(origin_xy), chunk):
        block = origin_xy[start : start + chunk]
        d = np.hypot(block[:, None, 0] - dest_xy[None, :, 0], block[:, None, 1] - dest_xy[None, :, 1])
        d *= detour_factor
        keep = d / speed_ms <= cutoff_s if cutoff_s is not None else np.ones_like(d, dtype=bool)
        i, j = np.nonzero(keep)
        origins.append(i + start)
        dests.append(j)
        dists.append(d[i, j])
    o = np.concatenate(origins) if origins else np.empty(0, np.int64)
    j = np.concatenate(dests) if dests else np.empty(0, np.int64)
    dist = np.concatenate(dists) if dists else np.empty(0)
    return TravelMatrix(
        origin_ids=np.asarray(origin_ids, dtype=str),
        dest_ids=np.asarray(dest_ids, dtype=str),
        origin=o.astype(np.int32),
        dest=j.astype(np.int32),
        time_s=np.rint(dist / speed_ms).astype(np.int32),
        dist_m=np.rint(dist).astype(np.int32),
        mode=mode,
    )


#: Straight-line speeds by mode when no road network is given (km/h).
STRAIGHT_LINE_SPEED_KMH = {"walk": WALK_SPEED_KMH, "bike": 12.0, "drive": 30.0, "bus": 25.0}


def representative_xy(gdf: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """``(n, 2)`` coordinates of each feature: the point, or a point inside the polygon."""
    import shapely  # noqa: PLC0415

    geom = gdf.geometry.values
    pts = shapely.point_on_surface(geom)
    return shapely.get_coordinates(pts).reshape(-1, 2)


#: Entries (schools × nodes, origins × schools) per chunk of the school-side search;
#: bounds the working memory to a few hundred MB whatever the county size.
CHUNK_ENTRIES = 4_000_000


def network_matrix(
    network: RoadNetwork,
    origin_ids: NDArray[np.str_],
    origin_xy: NDArray[np.float64],
    dest_ids: NDArray[np.str_],
    dest_xy: NDArray[np.float64],
    *,
    mode: str = "walk",
    cutoff_s: float | None = None,
    options: TravelOptions | None = None,
) -> TravelMatrix:
    """Travel matrix along a road network: the core on ids and coordinate arrays.

    Each origin and destination is snapped to the nearest point of an edge the
    mode may use (not only to a node); the off-network leg is walked at
    ``options.walk_speed_kmh`` and the snapped point splits the edge's time and
    length in proportion. Shortest paths run from the destination side with
    :func:`scipy.sparse.csgraph.dijkstra` on the transposed graph (so times are
    origin → destination, honouring one-way streets for ``drive`` and ``bus``),
    destinations in chunks to bound memory, each search stopped at ``cutoff_s``.
    Time is the objective; ``dist_m`` is the length of the fastest path (taken
    from the shortest-path trees when speeds differ between roads).

    Parameters
    ----------
    network
        Road network from :func:`geo.network.build_network`.
    origin_ids, dest_ids
        Ids of origins (blocks) and destinations (schools).
    origin_xy, dest_xy
        ``(n, 2)`` coordinates (m) in the network's CRS.
    mode
        ``walk``, ``bike``, ``drive`` or ``bus``.
    cutoff_s
        Pairs slower than this are unreachable (left out); ``None`` keeps all reachable pairs.
    options
        Travel settings (default :class:`TravelOptions`): ``walk_speed_kmh`` of
        the off-network legs; ``max_snap_m``, beyond which origins or
        destinations are logged as implausibly far from a usable road (their
        times still include the long off-network leg); ``workers``, processes
        for the searches when the problem is large (at least
        :data:`PROCESS_MIN_WORK`), the result not depending on it. Workers
        start from a ``forkserver``, so a script calling this with
        ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard
        (without it the workers fail and the searches run in this process).

    Returns
    -------
    TravelMatrix
        Reachable pairs only, sorted by origin then destination, with
        ``origin_snap_m``/``dest_snap_m`` filled.
    """
    opts = options if options is not None else TravelOptions()
    if mode not in network.graphs:
        msg = f"unknown mode {mode!r}; expected one of {sorted(network.graphs)}"
        raise ValueError(msg)
    origin_xy = np.asarray(origin_xy, dtype=np.float64).reshape(-1, 2)
    dest_xy = np.asarray(dest_xy, dtype=np.float64).reshape(-1, 2)
    origin_ids = np.asarray(origin_ids, dtype=str)
    dest_ids = np.asarray(dest_ids, dtype=str)
    n_o, n_d, n = len(origin_xy), len(dest_xy), network.n_nodes
    walk_ms = opts.walk_speed_kmh / 3.6
    empty = np.empty(0, np.int32)
    if n_o == 0 or n_d == 0:
        return TravelMatrix(origin_ids, dest_ids, empty, empty, empty, empty, mode,
                            np.zeros(n_o), np.zeros(n_d))  # fmt: skip
    so = network.snap(origin_xy, mode=mode)
    sd = network.snap(dest_xy, mode=mode)
    _report_far(so.offset_m, origin_ids, "origin", opts.max_snap_m)
    _report_far(sd.offset_m, dest_ids, "destination", opts.max_snap_m)

    edge_t = network.edge_time_s(mode)
    edge_l = network.length_m
    back_ok = open_backwards(network, mode)
    e, g = sd.edge, sd.frac
    gt, gt_len, _ = dest_side_graph(network, mode, e, g)
    graph = network.graphs[mode]
    uniform = graph.uniform_speed_ms

    # Origins: leave the snapped point towards v (always open) or u (if the edge is two-way).
    oe, f = so.edge, so.frac
    o_to_v_t, o_to_v_d = (1 - f) * edge_t[oe], (1 - f) * edge_l[oe]
    o_to_u_t = np.where(back_ok[oe], f * edge_t[oe], np.inf)
    o_to_u_d = f * edge_l[oe]
    ou, ov = network.edge_u[oe].astype(np.int64), network.edge_v[oe].astype(np.int64)
    off_o_t, off_d_t = so.offset_m / walk_ms, sd.offset_m / walk_ms
    same = _same_edge_pairs(oe, f, e, g, edge_t=edge_t, edge_l=edge_l, back_ok=back_ok)
    limit = np.inf if cutoff_s is None else float(cutoff_s)

    job = _ChunkJob(
        gt=gt, gt_len=gt_len, n_nodes=n, n_dests=n_d, uniform_speed_ms=uniform,
        limit=limit, has_cutoff=cutoff_s is not None, ou=ou, ov=ov,
        o_to_u_t=o_to_u_t, o_to_v_t=o_to_v_t, o_to_u_d=o_to_u_d, o_to_v_d=o_to_v_d,
        off_o_t=off_o_t, off_d_t=off_d_t, origin_snap_m=so.offset_m, dest_snap_m=sd.offset_m, same=same,
    )  # fmt: skip
    per_chunk = max(1, min(256, CHUNK_ENTRIES // max(n + n_d, n_o, 1)))
    chunks = [np.arange(s, min(s + per_chunk, n_d), dtype=np.int64) for s in range(0, n_d, per_chunk)]
    parts = _run_chunks(job, chunks, workers=opts.workers, work=n_d * (n + n_d + n_o))
    o, k, tsec, dist = _merge_by_origin(parts, n_o, [len(c) for c in chunks])
    logger.debug("%s matrix: %d reachable pairs of %d × %d", mode, len(o), n_o, n_d)
    return TravelMatrix(
        origin_ids=origin_ids,
        dest_ids=dest_ids,
        origin=o,
        dest=k,
        time_s=tsec,
        dist_m=dist,
        mode=mode,
        origin_snap_m=so.offset_m,
        dest_snap_m=sd.offset_m,
    )


#: Estimated work (schools × (nodes + schools + blocks) entries) from which
#: :func:`network_matrix` searches in worker processes when ``workers > 1``: below it
#: (the demo county, tests) starting processes costs more than it saves.
PROCESS_MIN_WORK = 30_000_000


@dataclass(frozen=True)
class _ChunkJob:
    """Everything a chunk of school-side searches needs; pickled once per worker process."""

    gt: sparse.csr_matrix
    gt_len: NDArray[np.float64]
    n_nodes: int
    n_dests: int
    uniform_speed_ms: float | None
    limit: float
    has_cutoff: bool
    ou: NDArray[np.int64]
    ov: NDArray[np.int64]
    o_to_u_t: NDArray[np.float64]
    o_to_v_t: NDArray[np.float64]
    o_to_u_d: NDArray[np.float64]
    o_to_v_d: NDArray[np.float64]
    off_o_t: NDArray[np.float64]
    off_d_t: NDArray[np.float64]
    origin_snap_m: NDArray[np.float64]
    dest_snap_m: NDArray[np.float64]
    same: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]


def _chunk_pairs(job: _ChunkJob, chunk: NDArray[np.int64]) -> tuple[NDArray[np.int32], ...]:
    """Kept ``(origin, dest, time_s, dist_m)`` pairs of one chunk of schools, sorted by origin then school.

    Each pair's value depends only on its own school's search, so the result
    does not depend on how the schools are chunked or where a chunk runs.
    """
    best, via_u, dd_t = _best_times(job, chunk)
    direct = _along_one_edge(job, chunk, best)
    total = best + (job.off_o_t[:, None] + job.off_d_t[chunk][None, :])
    keep = total <= job.limit if job.has_cutoff else np.isfinite(total)
    b_pair: NDArray[np.float64] | None
    if keep.all():  # every pair kept (no cutoff on a connected graph): no gathers needed
        del keep
        oi = np.repeat(np.arange(best.shape[0], dtype=np.int64), len(chunk))
        ki = np.tile(np.arange(len(chunk), dtype=np.int64), best.shape[0])
        t_pair = total.ravel()
        b_pair = best.ravel()
    else:
        flat = np.flatnonzero(keep)  # origin-major, then school
        del keep
        oi, ki = np.divmod(flat, len(chunk))
        t_pair = total.ravel()[flat]
        b_pair = best.ravel()[flat] if job.uniform_speed_ms is not None else None
        del flat
    del total
    if dd_t is None:  # one speed on every arc (no trees were searched): length = time × speed
        assert b_pair is not None and job.uniform_speed_ms is not None
        d_pair = b_pair * job.uniform_speed_ms
    else:
        d_pair = _tree_dist_m(job, dd_t, via_u, oi, ki, direct=direct, shape=best.shape)
    d_pair = d_pair + job.origin_snap_m[oi] + job.dest_snap_m[chunk[ki]]
    # Round here so kept pairs cost 16 bytes each; rows come sorted by origin, then school.
    return (oi.astype(np.int32), chunk[ki].astype(np.int32),
            np.rint(t_pair).astype(np.int32), np.rint(d_pair).astype(np.int32))  # fmt: skip


def _best_times(
    job: _ChunkJob, chunk: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64] | None]:
    """Searches from the chunk's schools: ``(best, via_u, dd_t)``.

    ``best`` is the ``(origins, chunk)`` time from each origin's snapped point
    to each school, leaving via ``v`` or via ``u`` (``via_u``), whichever is
    faster; ``dd_t`` the ``(nodes, chunk)`` path lengths from the shortest-path
    trees, ``None`` when one speed holds on every arc.
    """
    src = chunk + job.n_nodes
    dd_t = None
    if job.uniform_speed_ms is None:
        tt, pred = dijkstra(job.gt, directed=True, indices=src, limit=job.limit, return_predecessors=True)
        dd_t = np.ascontiguousarray(_tree_lengths(pred, job.gt.indptr, job.gt.indices, job.gt_len).T)
        del pred
    else:
        tt = dijkstra(job.gt, directed=True, indices=src, limit=job.limit)
    tt_t = np.ascontiguousarray(tt.T)  # (nodes, chunk): gathering rows is cache-friendly
    del tt
    # (origins, chunk): leave the snapped point via v or via u, whichever is faster.
    tv = tt_t[job.ov] + job.o_to_v_t[:, None]
    tu = tt_t[job.ou] + job.o_to_u_t[:, None]
    del tt_t
    via_u = tu < tv
    best = np.minimum(tu, tv)
    del tu, tv
    return best, via_u, dd_t


def _along_one_edge(
    job: _ChunkJob, chunk: NDArray[np.int64], best: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]] | None:
    """Block and school on one edge: straight along it when faster (``best`` updated in place).

    Returns the ``(row, column, length_m)`` of the pairs that go straight, or
    ``None`` when the chunk has no such pair.
    """
    same = job.same
    sel = np.isin(same[1], chunk)
    if not sel.any():
        return None
    r, c = same[0][sel], np.searchsorted(chunk, same[1][sel])
    better = same[2][sel] < best[r, c]
    r, c = r[better], c[better]
    best[r, c] = same[2][sel][better]
    return (r, c, same[3][sel][better])


def _tree_dist_m(
    job: _ChunkJob,
    dd_t: NDArray[np.float64],
    via_u: NDArray[np.bool_],
    oi: NDArray[np.int64],
    ki: NDArray[np.int64],
    *,
    direct: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]] | None,
    shape: tuple[int, ...],
) -> NDArray[np.float64]:
    """Length (m) of the fastest path of each kept pair ``(oi, ki)``, from the shortest-path trees."""
    u_side = via_u[oi, ki]
    node = np.where(u_side, job.ou[oi], job.ov[oi])
    d_pair = dd_t[node, ki] + np.where(u_side, job.o_to_u_d[oi], job.o_to_v_d[oi])
    if direct is not None:
        fix = np.zeros(shape, dtype=bool)
        fix[direct[0], direct[1]] = True
        val = np.zeros(shape)
        val[direct[0], direct[1]] = direct[2]
        hit = fix[oi, ki]
        d_pair[hit] = val[oi[hit], ki[hit]]
    return d_pair


#: The job of this worker process, set once by :func:`_init_worker`.
_WORKER_JOB: _ChunkJob | None = None


def _init_worker(job: _ChunkJob) -> None:
    global _WORKER_JOB  # noqa: PLW0603 - one job per worker process, by design
    _WORKER_JOB = job


def _worker_chunk(chunk: NDArray[np.int64]) -> tuple[NDArray[np.int32], ...]:
    assert _WORKER_JOB is not None
    return _chunk_pairs(_WORKER_JOB, chunk)


def _run_chunks(job: _ChunkJob, chunks: list[NDArray[np.int64]], *, workers: int, work: int) -> list[tuple[NDArray[np.int32], ...]]:
    """Run every chunk, in ``workers`` processes when the problem is big enough; results in chunk order.

    scipy's Dijkstra holds the GIL, so threads do not overlap searches; processes
    do. Workers come from a ``forkserver`` context (no fork of a possibly threaded
    parent), receive the job once, and return each chunk's pairs; ``map`` keeps
    chunk order, so the merged result is the same for any number of workers. If
    the processes cannot be started or die, the chunks run here instead.
    """
    n_proc = min(workers, len(chunks))
    if n_proc > 1 and work >= PROCESS_MIN_WORK:
        try:
            return _run_in_processes(job, chunks, n_proc)
        except (OSError, BrokenProcessPool) as exc:
            logger.warning("travel-matrix worker processes failed (%s); computing in this process", exc)
    return [_chunk_pairs(job, c) for c in chunks]


def _run_in_processes(job: _ChunkJob, chunks: list[NDArray[np.int64]], n_proc: int) -> list[tuple[NDArray[np.int32], ...]]:
    """Each chunk's pairs from ``n_proc`` worker processes, in chunk order."""
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload([__name__])  # import this module once in the server, not per worker
    logger.debug("travel matrix: %d chunks in %d %s worker processes", len(chunks), n_proc, method)
    with ProcessPoolExecutor(max_workers=n_proc, mp_context=ctx, initializer=_init_worker, initargs=(job,)) as pool:
        return list(pool.map(_worker_chunk, chunks))


def open_backwards(network: RoadNetwork, mode: str) -> NDArray[np.bool_]:
    """Edges the mode may travel v → u (every usable edge is open u → v)."""
    return (mode in UNDIRECTED_MODES) | ~network.oneway


def dest_side_graph(
    network: RoadNetwork,
    mode: str,
    dest_edge: NDArray[np.int32],
    dest_frac: NDArray[np.float64],
) -> tuple[sparse.csr_matrix, NDArray[np.float64], NDArray[np.int64]]:
    """Transposed mode graph with one extra node per destination.

    Node ``n_nodes + k`` is destination ``k``, lying at ``dest_frac[k]`` along
    edge ``dest_edge[k]`` and reached from that edge's ends. A search from it on
    this (transposed) graph gives travel times *to* the destination.

    Returns
    -------
    tuple
        ``(graph, arc_length_m, arc_keys)``: the CSR graph of seconds, the arc
        lengths aligned with its data, and the sorted ``row * size + col`` key of
        each arc (to look arcs up).
    """
    n, n_d = network.n_nodes, len(dest_edge)
    edge_t = network.edge_time_s(mode)
    edge_l = network.length_m
    graph = network.graphs[mode]
    e, g = dest_edge, dest_frac
    base = graph.time_s.tocoo()
    k_all = np.arange(n_d, dtype=np.int64) + n
    kb = open_backwards(network, mode)[e]
    rows = np.r_[base.row, network.edge_u[e], network.edge_v[e][kb]]
    cols = np.r_[base.col, k_all, k_all[kb]]
    t = np.r_[base.data, g * edge_t[e], ((1 - g) * edge_t[e])[kb]]
    ln = np.r_[graph.arc_length_m, g * edge_l[e], ((1 - g) * edge_l[e])[kb]]
    gt, gt_len = arcs_to_csr(cols, rows, t, ln, n + n_d)
    keys = np.repeat(np.arange(n + n_d, dtype=np.int64), np.diff(gt.indptr)) * (n + n_d) + gt.indices
    return gt, gt_len, keys


def _merge_by_origin(
    parts: list[tuple[NDArray[np.int32], ...]], n_origins: int, widths: list[int]
) -> tuple[NDArray[np.int32], ...]:
    """Merge per-chunk pairs (each sorted by origin, chunks in school order) into origin-major order.

    ``widths`` are the chunks' numbers of schools: a chunk is full (every pair kept) only when it
    holds ``n_origins × width`` pairs — a cut-off chunk can hold a multiple of ``n_origins`` too.
    Otherwise a counting sort: each pair's final slot is its origin's start, plus the
    pairs of that origin in earlier chunks, plus its rank within its chunk.
    Parts are released as they are placed, so peak memory stays near one copy.
    """
    if n_origins and all(len(p[0]) == n_origins * w for p, w in zip(parts, widths, strict=True)):
        return _merge_full(parts, n_origins, widths)
    counts = [np.bincount(p[0], minlength=n_origins) for p in parts]
    total = int(sum(len(p[0]) for p in parts))
    start = np.zeros(n_origins, dtype=np.int64)
    np.cumsum(sum(counts, np.zeros(n_origins, dtype=np.int64))[:-1], out=start[1:])
    out = tuple(np.empty(total, dtype=np.int32) for _ in range(4))
    seen = np.zeros(n_origins, dtype=np.int64)
    for j in range(len(parts)):
        o = parts[j][0]
        group_start = np.cumsum(counts[j]) - counts[j]
        slot = start[o] + seen[o] + np.arange(len(o)) - group_start[o]
        for field in range(4):
            out[field][slot] = parts[j][field]
        seen += counts[j]
        parts[j] = ()  # release this chunk's pairs
    return out


def _merge_full(parts: list[tuple[NDArray[np.int32], ...]], n_origins: int, widths: list[int]) -> tuple[NDArray[np.int32], ...]:
    """Merge chunks that kept every pair: each is an origin-major block of consecutive schools."""
    n_dests = sum(widths)
    origin = np.repeat(np.arange(n_origins, dtype=np.int32), n_dests)
    dest = np.tile(np.arange(n_dests, dtype=np.int32), n_origins)
    out_t = np.empty((n_origins, n_dests), dtype=np.int32)
    out_d = np.empty((n_origins, n_dests), dtype=np.int32)
    col = 0
    for j, w in enumerate(widths):
        if not np.array_equal(parts[j][1][:w], np.arange(col, col + w)):
            msg = "chunks must be consecutive schools in order"
            raise AssertionError(msg)
        out_t[:, col : col + w] = parts[j][2].reshape(n_origins, w)
        out_d[:, col : col + w] = parts[j][3].reshape(n_origins, w)
        col += w
        parts[j] = ()  # release this chunk's pairs
    return origin, dest, out_t.ravel(), out_d.ravel()


def _report_far(offset_m: NDArray[np.float64], ids: NDArray[np.str_], what: str, max_snap_m: float) -> None:
    far = np.flatnonzero(offset_m > max_snap_m)
    if len(far):
        shown = ", ".join(f"{ids[i]} ({offset_m[i]:.0f} m)" for i in far[:10])
        more = f" and {len(far) - 10} more" if len(far) > 10 else ""
        logger.warning("%d %s(s) lie more than %.0f m from a road: %s%s", len(far), what, max_snap_m, shown, more)


def _same_edge_pairs(
    oe: NDArray[np.int32],
    f: NDArray[np.float64],
    de: NDArray[np.int32],
    g: NDArray[np.float64],
    *,
    edge_t: NDArray[np.float64],
    edge_l: NDArray[np.float64],
    back_ok: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(origin, dest, time, length) of pairs on one edge, travelled along it directly."""
    order = np.argsort(oe, kind="stable")
    lo = np.searchsorted(oe[order], de, side="left")
    hi = np.searchsorted(oe[order], de, side="right")
    counts = hi - lo
    if counts.sum() == 0:
        z = np.empty(0, np.int64)
        return z, z, np.empty(0), np.empty(0)
    k = np.repeat(np.arange(len(de), dtype=np.int64), counts)
    o = order[np.repeat(lo, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)]
    ed = de[k]
    step = g[k] - f[o]  # > 0: dest lies ahead (u → v direction)
    ok = (step >= 0) | back_ok[ed]
    t = np.abs(step) * edge_t[ed]
    d = np.abs(step) * edge_l[ed]
    return o[ok].astype(np.int64), k[ok], t[ok], d[ok]


def _arc_positions(
    indptr: NDArray[np.int32],
    indices: NDArray[np.int32],
    tail: NDArray[np.int64],
    head: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Position in a CSR graph of each existing arc ``tail → head``.

    Scans each tail's row from its start, all arcs at once: the rows of a
    road graph hold a handful of arcs, so this beats a binary search over
    every arc's key.
    """
    out = np.empty(len(tail), dtype=np.int64)
    todo = np.arange(len(tail))
    pos = indptr[tail].astype(np.int64)
    end = indptr[tail + 1]
    want = head.astype(indices.dtype)
    while len(todo):
        if np.any(pos >= end):
            msg = "arc not in graph"  # pred arrays only name existing arcs
            raise AssertionError(msg)
        hit = indices[pos] == want
        out[todo[hit]] = pos[hit]
        miss = ~hit
        todo, pos, end, want = todo[miss], pos[miss] + 1, end[miss], want[miss]
    return out


def _tree_lengths(
    pred: NDArray[np.int32],
    indptr: NDArray[np.int32],
    indices: NDArray[np.int32],
    arc_len: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Length of each node's path in shortest-path trees, by pointer jumping.

    ``pred[r, j]`` is ``j``'s parent in tree ``r`` (negative at the root or when
    unreached); the arc ``pred → j`` is found in the CSR graph ``indptr``/``indices``
    whose arc lengths are ``arc_len``.
    """
    rows, width = pred.shape
    flat_pred = pred.ravel()
    reached = np.flatnonzero(flat_pred >= 0)  # entries with a parent, in tree-major order
    own = reached % width
    parent = flat_pred[reached].astype(np.int64)
    length = np.zeros(pred.size)
    length[reached] = arc_len[_arc_positions(indptr, indices, parent, own)]
    # Pointers into the flattened trees; int32 halves the memory traffic of the gathers below.
    idx = np.int32 if pred.size < 2**31 else np.int64
    jump = np.arange(pred.size, dtype=idx)
    jump[reached] = reached - own + parent
    del own, parent
    # Only nodes whose pointer is not yet at the root take part in a round: their
    # number roughly halves each round, so the whole costs a few passes, not log(depth).
    up = jump[reached]
    active = reached[jump[up] != up].astype(idx)
    del reached, up
    while len(active):
        target = jump[active]
        length[active] += length[target]  # both read before any write in this round
        jump[active] = jump[target]
        nxt = jump[active]
        active = active[jump[nxt] != nxt]
    return length.reshape(rows, width)


def travel_matrix(
    origins: gpd.GeoDataFrame,
    destinations: gpd.GeoDataFrame,
    *,
    origin_id: str,
    dest_id: str,
    network: object | None = None,
    mode: str = "walk",
    cutoff_s: float | None = None,
    options: TravelOptions | None = None,
) -> TravelMatrix:
    """Travel matrix between two layers in the same metric CRS.

    With a road ``network`` travel is along roads; without one, along the
    straight line × ``options.detour_factor`` at the mode's speed.

    Parameters
    ----------
    origins, destinations
        Layers in a projected metric CRS.
    origin_id, dest_id
        Id columns.
    network
        Road network from :func:`geo.network.build_network`, or ``None``.
    mode
        ``walk``, ``bike``, ``drive`` or ``bus``.
    cutoff_s
        Pairs slower than this are unreachable (left out).
    options
        Travel settings (default :class:`TravelOptions`; a scenario's
        :class:`geo.network.NetworkSettings` is one): ``detour_factor``
        (straight line, no network); ``walk_speed_kmh``, of the ``walk`` mode
        without a network and of the off-network legs with one;
        ``max_snap_m`` and ``workers``, see :func:`network_matrix`.

    Returns
    -------
    TravelMatrix

    Raises
    ------
    InputError
        When a layer's CRS differs from the network's.
    ValueError
        On an unknown mode.
    """
    opts = options if options is not None else TravelOptions()
    if network is not None:
        if not isinstance(network, RoadNetwork):
            msg = f"network must be a RoadNetwork from geo.network.build_network, got {type(network).__name__}"
            raise TypeError(msg)
        problems = [
            Problem(name, f"layer CRS {layer.crs.name!r} differs from the road network's {network.crs.name!r}")
            for name, layer in (("origins", origins), ("destinations", destinations))
            if layer.crs is not None and network.crs is not None and layer.crs != network.crs
        ]
        if problems:
            raise InputError(problems)
        return network_matrix(
            network,
            origins[origin_id].astype(str).to_numpy(),
            representative_xy(origins),
            destinations[dest_id].astype(str).to_numpy(),
            representative_xy(destinations),
            mode=mode,
            cutoff_s=cutoff_s,
            options=opts,
        )
    speeds = {**STRAIGHT_LINE_SPEED_KMH, "walk": opts.walk_speed_kmh}
    if mode not in speeds:
        msg = f"unknown mode {mode!r}; expected one of {sorted(speeds)}"
        raise ValueError(msg)
    return straight_line_matrix(
        origins[origin_id].astype(str).to_numpy(),
        representative_xy(origins),
        destinations[dest_id].astype(str).to_numpy(),
        representative_xy(destinations),
        speed_kmh=speeds[mode],
        detour_factor=opts.detour_factor,
        cutoff_s=cutoff_s,
        mode=f"{mode} (straight line × {opts.detour_factor:g})",
    )
