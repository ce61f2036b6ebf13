"""Contiguity column of ``bench_zones_suite.py`` alone, with the figures that explain it.

Runs our method with contiguity (Voronoi adjacency of the blocks, as
``bench_zones_suite.py --contiguity``) on suite instances and prints, per
instance: the plan's gap to the cached reference without contiguity
(``benchmarks/instances/zones_optima.json``; run ``bench_zones_suite.py``
first to fill it) and to the MIP solver's plan cached with it (a plan
without contiguity), the pieces left, the pieces joined by
:func:`planning.zones.connect.chain_and_polish`, wall seconds, and the work units the
joining and the whole run took. ``--no-wall`` lifts the wall-clock deadline
so that the deterministic work budget alone stops the run (the same plan on
any machine; use it on a loaded machine, where the clock would cut the run
short and the figures would depend on the load).

``--prove-contiguous SECONDS`` also runs CP-SAT with exact connectivity over
the whole instance from our whole plan (:func:`prove_contiguous`) and caches
the best contiguous plan and bound in ``benchmarks/instances/zones_contiguous.json``;
every row then shows our gap to that plan and that plan's gap to its bound.

Usage::

    python benchmarks/bench_zones_contiguity.py town:1000x40:1.01 uniform:3000x80:1.01 --no-wall
    python benchmarks/bench_zones_contiguity.py town:1000x40:1.01 --no-wall --prove-contiguous 15
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_zones_suite as suite

import planning.zones.plan as zone_plan

CONTIGUOUS_CACHE = suite.CACHE.parent / "zones_contiguous.json"
#: References (without contiguity) of the instances of generator seeds other than 1, which the suite does not run:
#: HiGHS given :data:`SEED_PROVE_TIME` wall seconds each, as ``bench_zones_suite.py --prove-time`` (kept apart from
#: ``zones_optima.json``, which the suite's own runs fill).
SEEDS_CACHE = suite.CACHE.parent / "zones_seeds.json"
#: HiGHS seconds for the reference of another seed's instance (60 s gives a bound within about 0.1-0.4 % of the
#: plans on the 1,000 x 40 rows).
SEED_PROVE_TIME = 60.0


def parse_spec(spec: str) -> tuple[str, int, int, float, int]:
    """``family:NxM:slack[:seed]`` as its family, blocks, schools, slack and generator seed (default 1)."""
    family, size, slack, *rest = spec.split(":")
    n, m = (int(v) for v in size.split("x"))
    if len(rest) > 1:
        raise ValueError(f"instance {spec!r}: expected family:NxM:slack[:seed]")
    return family, n, m, float(slack), int(rest[0]) if rest else 1


def reference(case: suite.Case, seed: int, cache: dict, seeds: dict, *, prove_time: float = SEED_PROVE_TIME) -> dict:
    """The reference of ``case``: the suite's cache for seed 1, else ``seeds`` (:data:`SEEDS_CACHE`), computed by HiGHS
    in ``prove_time`` seconds and cached there when missing (an empty dict: seed 1 and not in the suite's cache)."""
    if seed == 1:
        return cache.get(case.name, {})
    if case.name not in seeds:
        seeds[case.name] = suite.merge_reference(None, {**suite.highs_optimum(case, prove_time), "limit": prove_time})
        SEEDS_CACHE.write_text(json.dumps(seeds, indent=1, sort_keys=True) + "\n")
    return seeds[case.name]


def _kept_pairs(case: suite.Case, plan: np.ndarray) -> tuple[np.ndarray, float]:
    """Pairs a contiguous plan no dearer than ``plan`` may use (reduced-cost fixing), and ``plan``'s cost.

    A contiguous plan is a plan: one costing at most ``UB`` uses no pair whose reduced cost
    at the transportation relaxation exceeds ``UB − z`` (:func:`bench_zones_suite.lp_reduced_costs`).
    Blocks without students keep every pair (they cost nothing, and the zones may need them to join).
    """
    tm, d = case.travel, case.demand
    upper = suite.objective_of(case, plan)
    z, pairs, rc = suite.lp_reduced_costs(case)
    keep = np.zeros(len(tm.origin), bool)
    keep[pairs[rc <= upper - z + 1e-6 * upper]] = True
    keep |= d[tm.origin] == 0
    keep |= plan[tm.origin] == tm.dest  # the plan's own pairs
    return np.flatnonzero(keep), upper


def _bfs_trees(adj: dict[int, list[int]], plan: np.ndarray, roots: np.ndarray) -> dict[tuple[int, int], tuple[int, int]]:
    """Parent and layer of each block of ``plan``'s zones, breadth first from each school's root."""
    out: dict[tuple[int, int], tuple[int, int]] = {}
    for j, root in enumerate(roots.tolist()):
        layer = {root: 0}
        queue = deque([root])
        while queue:
            u = queue.popleft()
            for v in adj.get(u, []):
                if v not in layer and plan[v] == j:
                    layer[v] = layer[u] + 1
                    out[v, j] = (u, layer[v])
                    queue.append(v)
    return out


def contiguous_model(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray):
    """CP-SAT over the whole instance with every zone one piece, hinted with the whole ``plan``.

    ``x_ij`` per kept pair (:func:`_kept_pairs`): one school per block, seats, travel. Connectivity as
    in :mod:`planning.zones.connect`: per school ``j`` a rooted tree over the blocks that may take it,
    rooted at its own block (fixed to it; a block two schools stand in stays where ``plan`` has it,
    and the other school's tree starts from it too); every block of ``j`` but the root picks one
    neighbour of ``j`` (or the root) as its parent, at a lower layer. Returns the model, the
    variables per pair and ``plan``'s cost.
    """
    from ortools.sat.python import cp_model

    tm, d, cap = case.travel, case.demand, case.capacity
    idx, upper = _kept_pairs(case, plan)
    roots = graph.roots
    a = graph.adjacency
    adj = {i: a.indices[a.indptr[i] : a.indptr[i + 1]].tolist() for i in range(len(d))}
    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for k in idx.tolist():
        i, j = int(tm.origin[k]), int(tm.dest[k])
        x[i, j] = model.new_bool_var("")
        model.add_hint(x[i, j], bool(plan[i] == j))
    for root in np.unique(roots).tolist():
        model.add(x[root, int(plan[root])] == 1)  # each school's own block stays (as in the planner)
    rows: dict[int, list] = {}
    seats: dict[int, list] = {}
    for (i, j), v in x.items():
        rows.setdefault(i, []).append(v)
        seats.setdefault(j, []).append(int(d[i]) * v)
    for lits in rows.values():
        model.add_exactly_one(lits)
    for j, terms in seats.items():
        model.add(sum(terms) <= int(cap[j]))
    cost = {(int(i), int(j)): int(t) for i, j, t in zip(tm.origin[idx], tm.dest[idx], tm.time_s[idx], strict=True)}
    model.minimize(sum(int(d[i]) * cost.get((i, j), 0) * v for (i, j), v in x.items()))
    _add_trees(model, x, adj, roots, _bfs_trees(adj, plan, roots))
    return model, x, upper


def _add_trees(model, x: dict, adj: dict[int, list[int]], roots: np.ndarray, hint: dict) -> None:
    """The rooted trees of :func:`contiguous_model`, hinted with ``hint`` (block, school) → (parent, layer)."""
    size: dict[int, int] = {}
    for _, j in x:
        size[j] = size.get(j, 0) + 1
    level = {(v, j): model.new_int_var(1, size[j], "") for v, j in sorted(x) if v != int(roots[j])}
    for (v, j), var in level.items():
        model.add_hint(var, hint.get((v, j), (0, 1))[1])
    for (v, j), xv in sorted(x.items()):
        root = int(roots[j])
        if v == root:
            continue
        arcs = []
        for u in adj[v]:
            if u != root and (u, j) not in x:
                continue
            arc = model.new_bool_var("")
            model.add_hint(arc, hint.get((v, j), (-1, 0))[0] == u)
            arcs.append(arc)
            if u != root:
                model.add_implication(arc, x[u, j])
                model.add(level[v, j] >= level[u, j] + 1).only_enforce_if(arc)
        model.add(sum(arcs) == xv)


def _glued(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``plan`` with each detached piece (of a zone in ``inside``) handed to a bordering zone in ``inside`` whose
    school can take all of it (the one with the most free seats), until none is left or none can move: whole
    zones, seats ignored (the hint of :func:`whole_model`)."""
    from planning.zones.pieces import detached_pieces, piece_border

    tm, d, cap = case.travel, case.demand, case.capacity
    can = np.zeros((len(d), len(cap)), bool)
    can[tm.origin, tm.dest] = True
    none = np.zeros(len(d), bool)
    out = plan.copy()
    for _ in range(len(d)):
        pieces = [(j, pc) for j, pc in detached_pieces(out, graph.adjacency, graph.roots, none) if inside[j]]
        free = cap - np.bincount(out[out >= 0], weights=d[out >= 0], minlength=len(cap))
        moved = False
        for j, pc in pieces:
            ks = {int(k) for k in out[piece_border(pc, graph.adjacency, none)] if k >= 0 and k != j and inside[k]}
            ks = [k for k in ks if can[pc, k].all()]
            if ks:
                out[pc] = max(ks, key=lambda k: (free[k], -k))
                moved = True
                break
        if not moved:
            break
    return out


def whole_model(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray, *, soft: str = "pieces",
                zones: np.ndarray | None = None):
    """CP-SAT over every pair the instance allows: is there a plan with every zone one piece within the seats?

    As :func:`contiguous_model` (one school per block, a rooted tree per school over the blocks that may take it,
    each school's own block fixed to the school ``plan`` puts it at, as the planner pins it) but with no
    reduced-cost fixing (every pair of the travel matrix is kept: a plan dearer than ours counts too), and one
    side soft so that a hint is feasible and the objective says how far from a whole plan within the seats:

    - ``soft="pieces"`` (as :mod:`planning.zones.connect` joins pieces): a block of ``j`` may stay out of ``j``'s
      tree (``x_ij = r_ij + w_ij``, the tree over ``r``) at its students + 1; seats hard; hinted with ``plan``
      as it is (pieces included);
    - ``soft="seats"``: every block in its tree, the students over capacity counted; hinted with ``plan`` made
      whole (:func:`_glued`).

    Objective 0: such a plan exists; a bound above 0: none does. ``zones``: only the blocks of these schools'
    zones in ``plan`` are free, and only among these schools (the rest of ``plan`` stays: a plan found is one, a
    bound above 0 proves nothing beyond that window). Returns the model and the literals ``x`` per pair.
    """
    from ortools.sat.python import cp_model

    tm, d, cap = case.travel, case.demand, case.capacity
    roots = graph.roots
    a = graph.adjacency
    adj = {i: a.indices[a.indptr[i] : a.indptr[i + 1]].tolist() for i in range(len(d))}
    inside = np.ones(len(cap), bool) if zones is None else np.isin(np.arange(len(cap)), zones)
    hint = _glued(case, graph, plan, inside) if soft == "seats" else plan
    trees = _bfs_trees(adj, hint, roots)
    model = cp_model.CpModel()
    r: dict[tuple[int, int], cp_model.IntVar] = {}
    x: dict[tuple[int, int], object] = {}
    cost = []
    for i, j in zip(tm.origin.tolist(), tm.dest.tolist(), strict=True):
        if not (inside[j] and (plan[i] < 0 or inside[plan[i]])):
            continue
        r[i, j] = model.new_bool_var("")
        attached = (i, j) in trees or i == roots[j]
        model.add_hint(r[i, j], bool(hint[i] == j and (attached or soft == "seats")))
        x[i, j] = r[i, j]
        if soft == "pieces":
            w = model.new_bool_var("")
            model.add_hint(w, bool(hint[i] == j and not attached))
            x[i, j] = r[i, j] + w
            cost.append((int(d[i]) + 1) * w)
    for root in np.unique(roots[roots >= 0]).tolist():
        if (root, int(plan[root])) in r:
            model.add(r[root, int(plan[root])] == 1)
    rows: dict[int, list] = {}
    seats: dict[int, list] = {}
    for (i, j), v in x.items():
        rows.setdefault(i, []).append(v)
        seats.setdefault(j, []).append(int(d[i]) * v)
    for terms in rows.values():
        model.add(sum(terms) == 1)
    load = np.bincount(hint[hint >= 0], weights=d[hint >= 0], minlength=len(cap))
    for j, terms in seats.items():
        if soft == "seats":
            over = model.new_int_var(0, int(d.sum()), "")
            model.add_hint(over, max(int(load[j]) - int(cap[j]), 0))
            cost.append(over)
            model.add(sum(terms) - over <= int(cap[j]))
        else:
            model.add(sum(terms) <= int(cap[j]))
    model.minimize(sum(cost))
    _add_trees(model, r, adj, roots, trees)
    return model, x


def whole_plan_exists(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray, det_time: float, *,
                      workers: int = 8, soft: str = "pieces", zones: np.ndarray | None = None) -> dict:
    """Whether a plan of whole zones within the seats exists (:func:`whole_model`), CP-SAT given ``det_time``.

    Deterministic (``workers`` subsolvers interleaved on one thread). ``over``: the fewest students over capacity
    found (``soft="seats"``) or the students + blocks left in pieces (``soft="pieces"``), 0: ``plan`` holds a whole
    plan within the seats; ``bound``: CP-SAT's bound of it (above 0: none exists, within ``zones`` when given).
    """
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    model, x = whole_model(case, graph, plan, soft=soft, zones=zones)
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers, prm.interleave_search, prm.random_seed = workers, True, 0
    prm.max_deterministic_time = det_time
    status = solver.solve(model)
    out: dict = {"status": solver.status_name(status), "seconds": round(time.perf_counter() - t0, 1),
                 "pairs": len(x), "det_time": det_time, "bound": solver.best_objective_bound}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = plan.copy()
        for (i, j), v in x.items():
            if solver.value(v):
                found[i] = j
        out.update({"plan": found, "objective": suite.objective_of(case, found), "over": round(solver.objective_value)})
    return out


def prove_contiguous(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray, det_time: float, workers: int = 8) -> dict:
    """The best contiguous plan and bound CP-SAT finds in ``det_time`` (deterministic) from ``plan`` (every zone whole).

    ``workers`` subsolvers interleaved on one thread (LNS included), so the run is the same on any machine.
    The bound is CP-SAT's over the reduced-cost-fixed model (a bound of every contiguous plan no dearer
    than ``plan``, hence of the contiguous optimum); the caller takes the higher of it and the
    reference without contiguity.
    """
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    model, x, upper = contiguous_model(case, graph, plan)
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers, prm.interleave_search, prm.random_seed = workers, True, 0
    prm.max_deterministic_time = det_time
    status = solver.solve(model)
    best = plan.copy()
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for (i, j), v in x.items():
            if solver.boolean_value(v):
                best[i] = j
    found = suite.objective_of(case, best)
    bound = min(upper, solver.best_objective_bound) if status != cp_model.UNKNOWN else math.nan
    return {"seconds": round(time.perf_counter() - t0, 1), "limit": det_time,
            "status": f"CP-SAT interleaved ({workers} subsolvers, one thread, deterministic time {det_time:g}) with"
                      f" rooted-tree connectivity, hinted with our whole plan ({upper:,.0f}), {len(x):,} pairs:"
                      f" {solver.status_name(status)}",
            "objective": min(upper, found), "bound": bound, "proven": status == cp_model.OPTIMAL,
            "plan": best.tolist() if found <= upper else plan.tolist()}


# --- the price of contiguity: a lower bound of the best contiguous plan (separator cuts) -------------------------

#: Support thresholds of the cuts separated from the relaxation's fractional solution: the blocks whose value for a
#: school is above one of them split into pieces, and each piece apart from the school's own block gives its cuts
#: (above 0: the exact support; 0.25 and 0.5 also find pieces joined to the school by thin fractions only).
SUPPORT_LEVELS = (1e-6, 0.25, 0.5)
#: A cut is added when it is violated by more than this (in units of x).
CUT_TOLERANCE = 1e-3
#: Share of ``--price-bound`` seconds the relaxation's rounds may spend before the MIP rounds start (town 1,000 x 40
#: at 1.01: 10 rounds in 36 s raised the relaxation 0.00x %; its cuts serve the MIP's first round).
LP_SHARE = 0.15
#: Seconds of the first MIP round; each next round gets twice as many (the last what is left): early rounds add the
#: cuts of their plans' pieces cheaply, the last one's search has them all.
MIP_FIRST_S = 15.0


@dataclass
class _PriceModel:
    """The single-source assignment over kept pairs: columns ``origin``/``dest``/``cost``, ``col[j, i]`` (−1: no
    pair), each school's own block ``roots``, the pinned columns, and the separator cuts added so far."""

    origin: np.ndarray
    dest: np.ndarray
    cost: np.ndarray
    col: np.ndarray
    roots: np.ndarray
    pinned: np.ndarray
    adj: list[list[int]]
    demand: np.ndarray
    capacity: np.ndarray
    cuts: list[tuple[int, list[int]]] = field(default_factory=list)


def _price_model(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray | None) -> tuple[_PriceModel, float]:
    """:class:`_PriceModel` over the pairs reduced-cost fixing keeps below ``plan`` (every pair when ``None``), and the
    upper bound (``plan``'s cost, inf when ``None``).

    Each school's own block is pinned to it as the planner pins it (``planning.zones.plan._root_map``): when the block
    is the root of that school only and the pair exists.
    """
    tm, d, cap = case.travel, case.demand, case.capacity
    idx, upper = _kept_pairs(case, plan) if plan is not None else (np.arange(len(tm.origin)), math.inf)
    n, m = len(d), len(cap)
    o, j = tm.origin[idx].astype(np.int64), tm.dest[idx].astype(np.int64)
    col = np.full((m, n), -1, np.int64)
    col[j, o] = np.arange(len(idx))
    roots = graph.roots.astype(np.int64)
    shared = np.bincount(roots[roots >= 0], minlength=n)
    pinned = [int(col[s, r]) for s, r in enumerate(roots.tolist()) if r >= 0 and shared[r] == 1 and col[s, r] >= 0]
    a = graph.adjacency
    adj = [a.indices[a.indptr[i] : a.indptr[i + 1]].tolist() for i in range(n)]
    cost = d[o] * tm.time_s[idx].astype(np.float64)
    return _PriceModel(o, j, cost, col, roots, np.array(pinned, np.int64), adj, d, cap), upper


def _separator(pm: _PriceModel, j: int, piece: set[int]) -> list[int]:
    """A minimal set of blocks one of which zone ``j`` must hold for ``piece`` to reach ``j``'s own block.

    Over the blocks that may join ``j`` (a kept pair; the own block too): ``N`` the blocks bordering the piece, ``R``
    the blocks the own block reaches without crossing ``N``; the blocks of ``N`` bordering ``R`` separate the piece
    from the own block and from every block beside it (a zone is whole when each piece holds or borders it), and
    none can be dropped. Empty when nothing joins them: the piece's blocks cannot take ``j``.
    """
    ok = pm.col[j] >= 0
    root = int(pm.roots[j])
    ok[root] = True
    border = {k for i in piece for k in pm.adj[i] if ok[k] and k not in piece}
    reached, queue = {root}, deque([root])
    while queue:
        u = queue.popleft()
        for v in pm.adj[u]:
            if ok[v] and v not in reached and v not in border:
                reached.add(v)
                queue.append(v)
    return sorted(k for k in border if any(v in reached for v in pm.adj[k]))


def _pieces_apart(pm: _PriceModel, j: int, on: np.ndarray) -> list[set[int]]:
    """Pieces of the blocks ``on`` (of school ``j``) that neither hold nor border ``j``'s own block."""
    root = int(pm.roots[j])
    anchor = {root, *pm.adj[root]}
    seen: set[int] = set()
    out = []
    for s in np.flatnonzero(on).tolist():
        if s in seen:
            continue
        piece, queue = {s}, deque([s])
        while queue:
            u = queue.popleft()
            for v in pm.adj[u]:
                if on[v] and v not in piece:
                    piece.add(v)
                    queue.append(v)
        seen |= piece
        if not piece & anchor:
            out.append(piece)
    return out


def _separate(pm: _PriceModel, x: np.ndarray, levels: tuple[float, ...]) -> list[tuple[int, list[int]]]:
    """Separator cuts ``x_ij ≤ Σ_{k ∈ S} x_kj`` violated by ``x`` (per column), from the pieces of each school's
    blocks valued above each of ``levels``; each cut as (column of ``x_ij``, columns of ``S``), none twice."""
    have = {(i, tuple(sep)) for i, sep in pm.cuts}
    out: list[tuple[int, list[int]]] = []
    for j in range(len(pm.capacity)):
        has = pm.col[j] >= 0
        val = np.where(has, x[np.maximum(pm.col[j], 0)], 0.0)
        for level in levels:
            for piece in _pieces_apart(pm, j, val > level):
                sep = [int(pm.col[j, k]) for k in _separator(pm, j, piece) if has[k]]
                lhs = float(x[sep].sum())
                for i in sorted(piece):
                    cut = (int(pm.col[j, i]), sep)
                    key = (cut[0], tuple(sep))
                    if val[i] - lhs > CUT_TOLERANCE and key not in have:
                        have.add(key)
                        out.append(cut)
    return out


def _price_rows(pm: _PriceModel):
    """The constraints of :class:`_PriceModel` as scipy rows: (equality matrix, inequality matrix, its upper sides)."""
    import scipy.sparse as sp

    k, n, m = len(pm.origin), len(pm.demand), len(pm.capacity)
    a_eq = sp.csr_array((np.ones(k), (pm.origin, np.arange(k))), shape=(n, k))
    rows, cols, vals = [pm.dest], [np.arange(k)], [pm.demand[pm.origin].astype(float)]
    for r, (i, sep) in enumerate(pm.cuts):
        rows.append(np.full(1 + len(sep), m + r))
        cols.append(np.array([i, *sep], np.int64))
        vals.append(np.r_[1.0, -np.ones(len(sep))])
    a_ub = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m + len(pm.cuts), k))
    return a_eq, a_ub, np.r_[pm.capacity.astype(float), np.zeros(len(pm.cuts))]


def _lower_bounds(pm: _PriceModel) -> np.ndarray:
    lb = np.zeros(len(pm.origin))
    lb[pm.pinned] = 1.0
    return lb


def _block_cuts(pm: _PriceModel) -> list[tuple[int, list[int]]]:
    """The separator cut of every single block on its own, for each school it may take: a block of a zone that
    neither is nor borders the school's own block has a neighbour in the zone on the way there.

    The separator of ``{i}`` in zone ``j``: the blocks beside ``i`` that may join ``j`` (a kept pair), less the dead
    ends (beside ``i``, and whose other neighbours that may join ``j`` all border ``i`` too: a path through one goes
    on to another block beside ``i``), plus always those beside the own block. Added before the first round.
    """
    out = []
    for j in range(len(pm.capacity)):
        ok = pm.col[j] >= 0
        root = int(pm.roots[j])
        near_root = {root, *pm.adj[root]}
        for i in np.flatnonzero(ok).tolist():
            if i in near_root:
                continue
            ring = {k for k in pm.adj[i] if ok[k]}
            sep = [k for k in sorted(ring) if k in near_root or any(ok[v] and v != i and v not in ring for v in pm.adj[k])]
            out.append((int(pm.col[j, i]), [int(pm.col[j, k]) for k in sep]))
    return out


def _lp_rounds(pm: _PriceModel, seconds: float, log: dict) -> float:
    """Solve the relaxation and add the cuts its solution violates until none is left or ``seconds`` pass; its value
    (a bound of every contiguous plan on these pairs; −inf: not solved, inf: infeasible)."""
    from scipy.optimize import linprog

    t0, value = time.perf_counter(), -math.inf
    while time.perf_counter() - t0 < seconds:
        a_eq, a_ub, b_ub = _price_rows(pm)
        res = linprog(pm.cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.ones(a_eq.shape[0]),
                      bounds=np.column_stack([_lower_bounds(pm), np.ones(len(pm.cost))]), method="highs",
                      options={"time_limit": max(seconds - (time.perf_counter() - t0), 1.0)})
        if res.status == 2:
            return math.inf
        if res.status != 0:
            break
        value = max(value, float(res.fun))
        log["lp_first"] = log.get("lp_first", value)
        log["lp_rounds"] += 1
        cuts = _separate(pm, res.x, SUPPORT_LEVELS)
        if not cuts:
            break
        pm.cuts.extend(cuts)
    log["lp_cuts"] = len(pm.cuts) - log["block_cuts"]
    return value


def _mip_rounds(pm: _PriceModel, seconds: float, log: dict) -> dict:
    """Solve the MIP with the cuts so far (HiGHS), add the cuts its plan violates, repeat until ``seconds`` pass.

    The first solve gets :data:`MIP_FIRST_S` seconds, each next twice as many; after a solve without a plan, or with
    a contiguous one not proven optimal, the next takes all that is left. Each solve's dual bound is a bound of the
    contiguous optimum on these pairs; a plan with no cut to add is contiguous (the contiguous optimum when the solve
    proved it). Returns the highest bound, the cheapest contiguous plan's columns (``None``: none found) and cost,
    and whether the solve proved it optimal or the model infeasible.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    t0, step = time.perf_counter(), MIP_FIRST_S
    out: dict = {"bound": -math.inf, "columns": None, "objective": math.inf, "infeasible": False, "optimal": False}
    while (left := seconds - (time.perf_counter() - t0)) > 1.0:
        left, step = (left if left < 3 * step else step), 2 * step  # the last round takes all that is left
        a_eq, a_ub, b_ub = _price_rows(pm)
        res = milp(pm.cost, integrality=np.ones(len(pm.cost)), bounds=Bounds(_lower_bounds(pm), 1.0),
                   constraints=[LinearConstraint(a_eq, 1, 1), LinearConstraint(a_ub, -np.inf, b_ub)],
                   options={"time_limit": left, "mip_rel_gap": 1e-7, "disp": False})
        log["mip_rounds"] += 1
        log["mip_status"] = str(res.message)
        if res.status == 2:
            out["infeasible"] = True
            break
        got = getattr(res, "mip_dual_bound", None)
        if got is not None and not math.isnan(got):
            out["bound"] = max(out["bound"], float(got))
        if res.x is None:  # no plan yet: the next round takes what is left
            step = math.inf
            continue
        x = np.rint(res.x)
        cuts = _separate(pm, x, (0.5,))
        if not cuts:  # a contiguous plan: the optimum when proven, else the same model again with all that is left
            if float(res.fun) < out["objective"]:
                out["columns"], out["objective"] = np.flatnonzero(x > 0.5), float(res.fun)
            out["optimal"] = res.status == 0
            if out["optimal"]:
                break
            step = math.inf
            continue
        pm.cuts.extend(cuts)
    log["mip_cuts"] = len(pm.cuts) - log["lp_cuts"] - log["block_cuts"]
    return out


def price_bound(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray | None, seconds: float) -> dict:
    """A lower bound of the best plan with every zone one piece: the assignment MIP with separator cuts, cut by cut.

    Variables ``x_ij`` per pair kept by reduced-cost fixing below ``plan`` (a whole plan: the contiguous optimum is at
    most its cost, so the fixing is valid; ``None``: every pair, no upper bound); each block one school, seats hard,
    each school's own block pinned as the planner pins it. A zone is whole when each of its pieces holds or borders its
    school's own block (:func:`planning.zones.pieces.detached_pieces`); for a piece ``P`` of zone ``j`` apart from it
    and a minimal set ``S`` of blocks bordering ``P`` that separates it from the own block (:func:`_separator`),
    every whole plan has ``x_ij ≤ Σ_{k ∈ S} x_kj`` for ``i`` in ``P``. Rounds: first the relaxation (cuts from its
    fractional solution, :data:`SUPPORT_LEVELS`) for :data:`LP_SHARE` of ``seconds``, then the MIP (HiGHS, the
    seconds left; cuts from each plan's pieces). Every round's value (relaxation) or dual bound (MIP) is a bound;
    a MIP plan with no piece apart is contiguous and, proven optimal, the contiguous optimum; an infeasible model
    means no whole plan within the seats cheaper than ``plan`` (none at all without ``plan``).

    ``seconds`` are wall seconds (HiGHS's time limits): on a loaded machine the bound depends on the load.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    pm, upper = _price_model(case, graph, plan)
    log = {"block_cuts": 0, "lp_rounds": 0, "mip_rounds": 0, "lp_cuts": 0, "mip_cuts": 0, "mip_status": ""}
    pm.cuts.extend(_block_cuts(pm))
    log["block_cuts"] = len(pm.cuts)
    lp = _lp_rounds(pm, LP_SHARE * seconds, log)
    got = {"bound": -math.inf, "columns": None, "objective": math.inf, "infeasible": lp == math.inf, "optimal": False}
    if lp < math.inf:
        got = _mip_rounds(pm, seconds - (time.perf_counter() - t0), log)
    whole = None
    if got["columns"] is not None:
        whole = np.full(len(case.demand), -1, np.int64)
        whole[pm.origin[got["columns"]]] = pm.dest[got["columns"]]
    objective = min(upper, got["objective"])
    if got["infeasible"]:
        bound, status = upper, "infeasible: no whole plan within the seats" + (" cheaper than ours" if plan is not None else "")
    else:
        bound = min(upper, max(lp, got["bound"], objective if got["optimal"] else -math.inf))
        status = "proven" if bound >= objective - 0.5 else "open"
    return {"bound": bound, "lp_bound": lp, "mip_bound": got["bound"], "objective": objective, "upper": upper,
            "plan": whole if whole is not None and got["objective"] < upper else plan, "status": status,
            "pairs": len(pm.origin), "cuts": len(pm.cuts), **log, "seconds": round(time.perf_counter() - t0, 1),
            "cpu": round(time.process_time() - c0, 1), "limit": seconds}


def merge_contiguous(old: dict | None, run: dict, ref_bound: float) -> dict:
    """The cached contiguous reference with a new run: cheapest plan (kept, as text), highest bound, every run listed.

    The bound is the highest of the runs' and ``ref_bound`` (the bound without contiguity, valid here too).
    """
    runs = [*(old or {}).get("runs", []), {k: v for k, v in run.items() if k != "plan"}]
    best = old if old is not None and old["objective"] <= run["objective"] else {"objective": run["objective"],
                                                                                 "plan": ",".join(map(str, run["plan"]))}
    bounds = [r["bound"] for r in runs] + [ref_bound, (old or {}).get("bound", math.nan)]  # the old: --price-bound's too
    bound = max((b for b in bounds if not math.isnan(b)), default=math.nan)
    return {"objective": best["objective"], "bound": bound, "proven": bound >= best["objective"] - 0.5,
            "plan": best["plan"], "runs": runs, **({"price": old["price"]} if old and "price" in old else {})}


def merge_price(old: dict | None, price: dict, ref_bound: float) -> dict:
    """The cached contiguous reference with a :func:`price_bound` run listed under ``price``: its bound raises the
    reference's, its whole plan replaces a dearer one (the entry is made when missing, without a plan: ``objective``
    nan, ``plan`` empty)."""
    entry = {"objective": math.nan, "bound": math.nan, "proven": False, "plan": "", "runs": [], **(old or {})}
    entry["price"] = [*entry.get("price", []), {k: v for k, v in price.items() if k != "plan"}]
    if price["plan"] is not None and not price["objective"] >= entry["objective"]:  # cheaper, or none cached
        entry["objective"], entry["plan"] = price["objective"], ",".join(map(str, price["plan"].tolist()))
    bounds = [entry["bound"], ref_bound, price["bound"] if price["bound"] > -math.inf else math.nan]
    entry["bound"] = max((b for b in bounds if not math.isnan(b)), default=math.nan)
    entry["proven"] = bool(entry["bound"] >= entry["objective"] - 0.5)
    return entry


def _whole_within(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray) -> bool:
    """Whether every zone of ``plan`` is one piece and every school within its seats."""
    from planning.zones.pieces import detached_pieces

    load = np.bincount(plan[plan >= 0], weights=case.demand[plan >= 0], minlength=len(case.capacity))
    return bool((plan >= 0).all() and (load <= case.capacity).all()
                and not detached_pieces(plan, graph.adjacency, graph.roots, np.zeros(len(plan), bool)))


def _cheapest_whole(case: suite.Case, graph: suite.BlockGraph, plans: list[np.ndarray]) -> np.ndarray | None:
    """The cheapest of ``plans`` that is whole and within the seats (``None``: none is)."""
    whole = [p for p in plans if len(p) == len(case.demand) and _whole_within(case, graph, p)]
    return min(whole, key=lambda p: suite.objective_of(case, p), default=None)


def _price_words(case: suite.Case, ours: dict, entry: dict, ref: float, mip: float) -> str:
    """A row of the price table: the references without contiguity, our plan, the bounds and plans with it."""
    price = entry["price"][-1]
    bound = max(b for b in (price["bound"], ref, -math.inf) if not math.isnan(b))
    best = entry["objective"]
    target = 1.005 * ref
    reach = ("no (proven)" if bound > target else "yes (a plan known)" if best <= target
             else "open")
    return (f"| {case.name} | {mip:,.0f} ({ref:,.0f}) | {ours['objective']:,.0f} ({suite._gap(ours['objective'], ref)},"
            f" {'whole' if ours['contiguous'] else str(ours['pieces']) + ' pieces'}) | {price['bound']:,.0f}"
            f" (LP {price['lp_bound']:,.0f}, MIP {price['mip_bound']:,.0f}) | {best:,.0f}"
            f" | {suite._gap(bound, mip)} / {suite._gap(bound, ref)} | {suite._gap(ours['objective'], bound)} | {reach}"
            f" | {price['status']}: {price['lp_rounds']} + {price['mip_rounds']} rounds, {price['cuts']:,} cuts,"
            f" {price['pairs']:,} pairs, {price['seconds']:.0f} s, CPU {price['cpu']:.0f} s ({price['mip_status'][:40]}) |")


def run(spec: str, limit: float, cache: dict, *, prove: float = 0.0, contiguous: dict | None = None,
        exists: float = 0.0, rings: int = -1, price: float = 0.0, priced: list[str] | None = None,
        seeds: dict | None = None) -> str:
    """One instance ``family:NxM:slack[:seed]`` (``seeds``: other seeds' references, :func:`reference`): a row of the
    table (``prove``: CP-SAT's deterministic time for the best contiguous plan from ours, merged into ``contiguous``,
    the cache of :data:`CONTIGUOUS_CACHE`; ``price``: seconds of :func:`price_bound` from the cheapest whole plan of
    ours and the cache's, its row of the price table appended to ``priced``)."""
    family, n, m, slack, seed = parse_spec(spec)
    case = suite.generate(family, n, m, slack, seed)
    best_known = reference(case, seed, cache, {} if seeds is None else seeds)
    ref = best_known.get("bound", float("nan"))
    mip = best_known.get("objective", float("nan"))
    graph = suite.adjacency_of(case)
    t0 = time.perf_counter()
    got = suite.ours(case, limit, graph=graph)
    seconds = time.perf_counter() - t0
    d = got["plan"].details
    whole = "whole" if got["contiguous"] else f"{got['pieces']} pieces"
    polished = d.get("polished_pieces", 0)
    for why in got["plan"].enclave_reasons:
        print(f"<!-- {case.name}: {why} -->", file=sys.stderr)
    contiguous = {} if contiguous is None else contiguous
    if exists:
        print(f"<!-- {case.name}: {_exists_words(case, graph, got['plan'].block_school, exists, rings)} -->", file=sys.stderr)
    if prove and got["contiguous"]:
        contiguous[case.name] = merge_contiguous(contiguous.get(case.name), prove_contiguous(case, graph, got["plan"].block_school, prove), ref)
        CONTIGUOUS_CACHE.write_text(json.dumps(contiguous, indent=1, sort_keys=True) + "\n")
    if price:
        cached = contiguous.get(case.name, {}).get("plan", "")
        upper = _cheapest_whole(case, graph, [got["plan"].block_school]
                                + ([np.array(cached.split(","), np.int64)] if cached else []))
        contiguous[case.name] = merge_price(contiguous.get(case.name), price_bound(case, graph, upper, price), ref)
        CONTIGUOUS_CACHE.write_text(json.dumps(contiguous, indent=1, sort_keys=True) + "\n")
        (priced if priced is not None else []).append(_price_words(case, got, contiguous[case.name], ref, mip))
    best = contiguous.get(case.name, {"objective": math.nan, "bound": math.nan})
    return (f"| {case.name} | {suite._gap(got['objective'], ref)} | {suite._gap(got['objective'], mip)} "
            f"| {suite._gap(got['objective'], best['objective'])} | {suite._gap(best['objective'], best['bound'])} | {whole} "
            f"| {polished} | {seconds:.0f} s "
            f"| {d.get('first_plan_work_units')} | {d.get('work_units')} | {got['wall_stops']} "
            f"| {got['objective']:.0f} | {got['over']} |")


def _window_zones(graph: suite.BlockGraph, plan: np.ndarray, rings: int) -> np.ndarray | None:
    """The zones holding a detached piece of ``plan`` and ``rings`` rings of zones bordering them (``None``: every
    zone, when ``rings`` < 0)."""
    from planning.zones.pieces import detached_pieces

    if rings < 0:
        return None
    coo = graph.adjacency.tocoo()
    zones = {j for j, _ in detached_pieces(plan, graph.adjacency, graph.roots, np.zeros(len(plan), bool))}
    for _ in range(rings):
        near = np.isin(plan[coo.row], sorted(zones)) & (plan[coo.col] >= 0)
        zones |= set(plan[coo.col[near]].tolist())
    return np.array(sorted(zones), np.int64)


def _exists_words(case: suite.Case, graph: suite.BlockGraph, plan: np.ndarray, det_time: float, rings: int) -> str:
    """:func:`whole_plan_exists` from ``plan`` (over :func:`_window_zones`), in a line (the plan found checked:
    pieces, students over)."""
    from planning.zones.pieces import detached_pieces

    zones = _window_zones(graph, plan, rings)
    if zones is not None and not len(zones):
        return "every zone whole: nothing to ask"
    got = whole_plan_exists(case, graph, plan, det_time, zones=zones)
    where = "every zone" if zones is None else f"the {len(zones)} zones of the pieces and {rings} rings around them"
    line = (f"a plan of whole zones within the seats ({where}, students + blocks left in pieces): {got['status']},"
            f" best {got.get('over', '—')}, bound {got['bound']:g} ({got['pairs']:,} pairs, deterministic time"
            f" {det_time:g}, {got['seconds']} s)")
    if "plan" in got:
        found = got["plan"]
        load = np.bincount(found[found >= 0], weights=case.demand[found >= 0], minlength=len(case.capacity))
        pieces = detached_pieces(found, graph.adjacency, graph.roots, np.zeros(len(found), bool))
        over = int(np.maximum(load - case.capacity, 0).sum())
        line += f"; its plan: travel {got['objective']:,.0f}, {len(pieces)} pieces, {over} students over"
    return line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instances", nargs="+", help="family:NxM:slack[:seed], e.g. town:1000x40:1.01 or town:1000x40:1.01:2"
                    " (generator seed, default 1; other seeds' references: HiGHS, cached in " + SEEDS_CACHE.name + ")")
    ap.add_argument("--limit", type=float, default=60.0, help="time_limit_s")
    ap.add_argument("--no-wall", action="store_true", help="the work budget alone stops the run (no wall deadline)")
    ap.add_argument("--prove-contiguous", type=float, default=0.0, metavar="SECONDS",
                    help="also CP-SAT with exact connectivity over the whole instance from our whole plan (SECONDS of"
                         " deterministic time, 8 subsolvers on one thread), merged into " + CONTIGUOUS_CACHE.name)
    ap.add_argument("--whole-exists", type=float, default=0.0, metavar="SECONDS",
                    help="also ask CP-SAT (SECONDS of deterministic time, every pair kept) whether a plan of whole zones"
                         " within the seats exists, hinted with our plan (whole_model, pieces soft)")
    ap.add_argument("--whole-rings", type=int, default=-1, metavar="RINGS",
                    help="with --whole-exists: free only the zones holding pieces and RINGS rings of zones around them"
                         " (default: every zone)")
    ap.add_argument("--price-bound", type=float, default=0.0, metavar="SECONDS",
                    help="also a lower bound of the best contiguous plan: the assignment MIP with separator cuts"
                         " (price_bound, HiGHS, SECONDS of wall time) below the cheapest whole plan of ours and the"
                         " cache's, merged into " + CONTIGUOUS_CACHE.name + " under 'price'")
    args = ap.parse_args(argv)
    if args.no_wall:
        zone_plan._deadline = lambda t0, limits: float("inf")  # type: ignore[assignment]
    cache = json.loads(suite.CACHE.read_text()) if suite.CACHE.exists() else {}
    contiguous = json.loads(CONTIGUOUS_CACHE.read_text()) if CONTIGUOUS_CACHE.exists() else {}
    seeds = json.loads(SEEDS_CACHE.read_text()) if SEEDS_CACHE.exists() else {}
    print("| instance | contiguity vs reference | vs MIP plan | vs best contiguous plan | best contiguous plan vs its bound "
          "| pieces | joined by chain and polish | wall | work units, first plan | work units | wall stops | objective "
          "| students over capacity |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    priced: list[str] = []
    for spec in args.instances:
        print(run(spec, args.limit, cache, prove=args.prove_contiguous, contiguous=contiguous,
                  exists=args.whole_exists, rings=args.whole_rings, price=args.price_bound, priced=priced, seeds=seeds),
              flush=True)
        if priced:
            print(f"<!-- price: {priced[-1]} -->", file=sys.stderr, flush=True)
    if priced:
        print("\n| instance | without contiguity: best plan (bound) | our whole plan (gap) | contiguous lower bound"
              " (relaxation with cuts, MIP) | best whole plan known | price of contiguity proven (vs best plan / vs bound)"
              " | our plan vs the contiguous bound | within 0.5 % of the bound reachable | how |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(priced))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
