"""Benchmark: road network build, snapping and block × school travel matrices.

Builds a generated county-sized road network (a perturbed grid with a road
hierarchy and some one-way streets, ~100,000 nodes), 50,000 blocks and 1,000
schools, then prints graph build time, snapping time, matrix times and peak
memory, and, on the same walking graph in the same run, the time networkx's
single-source Dijkstra takes per school (measured on a sample of schools and
extrapolated) against the per-school time of the scipy matrix.

Targets (2 cores): whole matrix ≤ 30 s, peak memory ≤ 4 GiB, ≥ 20× faster than
networkx per source. The matrices run in ``--workers`` worker processes (2 by
default); peak memory is given for this process and for it with its workers.

Run::

    .venv/bin/python benchmarks/bench_travel.py            # full size
    .venv/bin/python benchmarks/bench_travel.py --quick    # smoke run, seconds
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.network import build_network
from geo.policy import RURAL_MAX_ONE_WAY_S
from geo.travel import TravelOptions, network_matrix

CRS = "EPSG:32649"
SPACING_M = 100.0


def grid_roads(side: int, seed: int) -> gpd.GeoDataFrame:
    """A side × side grid of intersections, jittered, one line per block face.

    Every 10th street is primary, every 5th secondary, the rest residential;
    one residential street in 7 is one-way; 4 % of block faces are missing
    (dead ends, irregular blocks).
    """
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.stack([ii * SPACING_M, jj * SPACING_M], axis=-1) + rng.uniform(-25, 25, (side, side, 2))
    idx = np.arange(side * side).reshape(side, side)
    a = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    b = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    street = np.r_[ii[:, :-1].ravel(), side + jj[:-1, :].ravel()]  # which street each face lies on
    keep = rng.random(len(a)) > 0.04
    a, b, street = a[keep], b[keep], street[keep]
    cls = np.where(street % 10 == 0, "primary", np.where(street % 5 == 0, "secondary", "residential"))
    oneway = (cls == "residential") & (street % 7 == 3)
    flat = xy.reshape(-1, 2)
    # A bend in the middle of every face so edges are not straight segments.
    mid = (flat[a] + flat[b]) / 2 + rng.uniform(-5, 5, (len(a), 2))
    coords = np.stack([flat[a], mid, flat[b]], axis=1)
    lines = shapely.linestrings(coords.reshape(-1, 2), indices=np.repeat(np.arange(len(a)), 3))
    return gpd.GeoDataFrame({"highway": cls, "oneway": oneway}, geometry=lines, crs=CRS)


def peak_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeMemory:
    """Samples the resident memory of this process and all its descendants (worker processes) together."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    @staticmethod
    def _tree_rss_mib() -> float:
        total, todo = 0, [os.getpid()]
        while todo:  # this process, then its children (the forkserver), then theirs (workers)
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
            total += next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
        return total / 1024

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.peak_mib = max(self.peak_mib, self._tree_rss_mib())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mib


def timed(label: str, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    dt = time.perf_counter() - t0
    print(f"{label:<44s} {dt:8.2f} s   peak RSS {peak_mib():7.0f} MiB", flush=True)
    return out, dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--workers", type=int, default=2, help="worker processes for the searches (1: all in this process)")
    ap.add_argument("--nx-sample", type=int, default=5, help="schools timed with networkx")
    args = ap.parse_args()
    side, n_blocks, n_schools = (60, 3_000, 60) if args.quick else (317, 50_000, 1_000)
    rng = np.random.default_rng(42)

    roads, _ = timed("generate roads", grid_roads, side, 1)
    net, t_build = timed(f"build network ({len(roads):,} lines)", build_network, roads)
    print(f"  network: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {net.length_m.sum() / 1000:,.0f} km,"
          f" {net.report.components_dropped} pieces dropped")
    extent = (side - 1) * SPACING_M
    blocks = rng.uniform(0, extent, (n_blocks, 2))
    schools = rng.uniform(0, extent, (n_schools, 2))
    b_ids = np.char.add("b", np.arange(n_blocks).astype(str))
    s_ids = np.char.add("s", np.arange(n_schools).astype(str))

    _, t_snap = timed(f"snap {n_blocks:,} blocks + {n_schools:,} schools", lambda: (net.snap(blocks, mode="walk"), net.snap(schools, mode="walk")))
    runs = {}
    tree_mem = TreeMemory()
    for label, mode, cutoff in [
        ("walk, no cutoff (every pair)", "walk", None),
        (f"walk, cutoff {RURAL_MAX_ONE_WAY_S // 60} min", "walk", RURAL_MAX_ONE_WAY_S),
        ("drive (one-way, class speeds), cutoff 30 min", "drive", RURAL_MAX_ONE_WAY_S),
    ]:
        tm, dt = timed(f"matrix {label}", network_matrix, net, b_ids, blocks, s_ids, schools,
                       mode=mode, cutoff_s=cutoff, options=TravelOptions(workers=args.workers))  # fmt: skip
        print(f"  {tm.n_pairs:,} reachable pairs ({tm.n_pairs / (n_blocks * n_schools):.1%} of all)")
        runs[label] = dt
        del tm
    peak_matrix = peak_mib()
    peak_tree = tree_mem.stop()

    # networkx on the same walking graph: one single-source Dijkstra per school.
    g = net.graphs["walk"].time_s.tocoo()
    nxg = nx.Graph()
    nxg.add_weighted_edges_from(zip(g.row.tolist(), g.col.tolist(), g.data.tolist()))
    sample = rng.choice(net.n_nodes, size=args.nx_sample, replace=False)
    t0 = time.perf_counter()
    for s in sample:
        nx.single_source_dijkstra_path_length(nxg, int(s), weight="weight")
    nx_per = (time.perf_counter() - t0) / len(sample)
    from scipy.sparse.csgraph import dijkstra

    t0 = time.perf_counter()
    for s in sample:
        dijkstra(net.graphs["walk"].time_s, directed=True, indices=int(s))
    sp_per = (time.perf_counter() - t0) / len(sample)
    full = runs["walk, no cutoff (every pair)"]
    ours_per = full / n_schools
    print(f"networkx single_source_dijkstra per school     {nx_per * 1000:8.1f} ms (mean of {len(sample)} schools;"
          f" ×{n_schools:,} schools ≈ {nx_per * n_schools:,.0f} s, extrapolated)")
    print(f"scipy dijkstra per school (same sources, same graph) {sp_per * 1000:8.1f} ms")
    print(f"schoolplan per school (whole walk matrix / {n_schools:,}) {ours_per * 1000:8.1f} ms")
    print()
    print("summary")
    print(f"  nodes {net.n_nodes:,}, blocks {n_blocks:,}, schools {n_schools:,}, workers {args.workers}")
    print(f"  graph build {t_build:.2f} s, snapping {t_snap:.2f} s")
    for label, dt in runs.items():
        print(f"  matrix {label}: {dt:.2f} s")
    print(f"  peak memory through the matrices: {peak_matrix / 1024:.2f} GiB in this process,"
          f" {peak_tree / 1024:.2f} GiB with its worker processes (sampled every 0.25 s) (target ≤ 4 GiB)")
    print(f"  speed-up over networkx per source: {nx_per / ours_per:.0f}× counting everything in the whole matrix"
          f" (snapping, gathering, merging), {nx_per / sp_per:.0f}× search against search (target ≥ 20×)")
    print(f"  whole walk matrix {full:.1f} s (target ≤ 30 s): {'met' if full <= 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
