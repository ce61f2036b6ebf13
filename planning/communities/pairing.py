"""One-to-one pairing of weak and strong schools (结对帮扶): each weak school with a strong partner in reach.

**Model** (:func:`pair_schools`, min-cost flow). Each weak school is paired with
one strong school in reach and a strong school takes at most ``k``: source →
weak (capacity 1) → strong (cost = travel s) → sink (capacity k), solved as a
maximum flow of minimum cost, which is exact (gap 0); when every weak school can
be paired and the problem is nearly square, OR-Tools' linear sum assignment with
each strong school replicated k times gives the same optimum faster.

**Frames** (:func:`form_pairs`): per level (as the groups: primary with primary,
junior with junior, nine-year schools in both; or all together), the schools of
class ``weak`` with those of class ``strong`` that may lead (no teaching point, small or
incomplete school, of ``lead_area_types``), within ``max_travel_min``; ``pair_k``
``None`` takes the smallest k that pairs every weak school in reach.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.graph.python import linear_sum_assignment, min_cost_flow

from geo.errors import InfeasibleError, InputError, Problem, Shortfall, SolverError, figures
from geo.policy import GROUP_MAX_TRAVEL_S
from geo.travel import TravelMatrix
from planning.communities.frames import (
    PAIR_COLUMNS,
    UNASSIGNED_COLUMNS,
    concat,
    level_runs,
    may_lead,
    school_info,
    strength_problems,
    travel_among,
)
from planning.communities.options import CommunityOptions

logger = logging.getLogger(__name__)

#: Reasons a weak school is left unpaired.
PAIR_UNREACHABLE = "no strong school within the travel cap"
PAIR_FULL = "strong schools in reach are full"
#: The kind of shortfall (:mod:`maps.shortfalls`) each reason makes.
PAIR_KINDS = {PAIR_UNREACHABLE: "communities.pair_unreachable", PAIR_FULL: "communities.pair_full"}


@dataclass(frozen=True)
class PairingSolution:
    """Solution of :func:`pair_schools`.

    Attributes
    ----------
    partner
        For each weak school, the index of its strong partner, or -1.
    time_s
        Travel seconds of each pair (-1 when unpaired).
    unpaired
        Weak index → reason.
    objective
        Total travel seconds of the pairs (exact optimum: bound = objective, gap 0).
    """

    partner: NDArray[np.int64]
    time_s: NDArray[np.int64]
    unpaired: Mapping[int, str]
    objective: int


#: Padding arcs allowed to square an assignment problem before falling back to min-cost flow.
_MAX_PADDING_ARCS = 1_000_000


def _assignment(
    n_weak: int, n_strong: int, wi: NDArray[np.int64], sj: NDArray[np.int64], tt: NDArray[np.int64], k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """Pairs by OR-Tools' linear sum assignment (strong schools replicated k times), or ``None``.

    Used when every weak school can be paired in principle and the problem is
    (nearly) square: it is several times faster than min-cost flow there. The
    solver needs a square problem with a perfect matching, so dummy weak schools
    joined to every copy at cost 0 fill the difference; ``None`` when that would
    take too many arcs, or when no perfect matching exists (min-cost flow then
    finds the most pairs).
    """
    n_right = n_strong * k
    pad = n_right - n_weak
    reach = np.zeros(n_weak, bool)
    reach[wi] = True
    if n_weak == 0 or pad < 0 or not reach.all() or pad * n_right > _MAX_PADDING_ARCS:
        return None
    rep = np.arange(k)
    left = np.concatenate([np.repeat(wi, k), np.repeat(np.arange(n_weak, n_right), n_right)])
    right = np.concatenate([(sj[:, None] * k + rep[None, :]).ravel(), np.tile(np.arange(n_right), pad)])
    cost = np.concatenate([np.repeat(tt, k), np.zeros(pad * n_right, np.int64)])
    solver = linear_sum_assignment.SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(left.astype(np.int32), right.astype(np.int32), cost.astype(np.int64))
    if solver.solve() != solver.OPTIMAL:
        return None
    mates = np.array([solver.right_mate(i) for i in range(n_weak)], dtype=np.int64)
    partner = mates // k
    keys = wi * n_strong + sj
    if (np.diff(keys) >= 0).all():  # pairs from a dense matrix come sorted
        at = np.searchsorted(keys, np.arange(n_weak) * n_strong + partner)
        ptime = tt[at].astype(np.int64)
    else:
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(keys[order], np.arange(n_weak) * n_strong + partner)
        ptime = tt[order][at].astype(np.int64)
    return partner, ptime


def pair_schools(
    time_s: NDArray[Any] | sp.spmatrix | sp.sparray,
    *,
    k: int = 1,
    max_travel_s: float = GROUP_MAX_TRAVEL_S,
    weak_ids: Sequence[str] | None = None,
    allow_unpaired: bool = False,
) -> PairingSolution:
    """Pair each weak school with one strong school, a strong school taking at most ``k``.

    Parameters
    ----------
    time_s
        ``(n_weak, n_strong)`` travel seconds strong → weak: dense (``inf`` =
        unreachable) or sparse (missing = unreachable).
    k
        Weak schools a strong school takes at most.
    max_travel_s
        Pairs slower than this are not allowed.
    weak_ids
        Ids for messages.
    allow_unpaired
        Return with weak schools unpaired (and why) instead of failing.

    Returns
    -------
    PairingSolution
        The most pairs possible, at least total travel among those.

    Raises
    ------
    InfeasibleError
        Some weak schools cannot be paired (none in reach, or the strong schools
        in reach are full), unless ``allow_unpaired``.
    """
    if k < 1:
        raise InputError([Problem("communities", f"k must be ≥ 1, got {k}", column="pair_k")])
    if sp.issparse(time_s):
        coo = sp.coo_array(time_s)
        n_weak, n_strong = coo.shape
        wi, sj, tt = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64)
    else:
        dense = np.asarray(time_s, dtype=np.float64)
        if dense.ndim != 2:
            raise InputError([Problem("communities", f"travel must be 2-D, got shape {dense.shape}")])
        n_weak, n_strong = dense.shape
        wi, sj = np.nonzero(np.isfinite(dense) & (dense <= max_travel_s))
        tt = dense[wi, sj]
    keep = np.isfinite(tt) & (tt <= max_travel_s)
    wi, sj, tt = wi[keep], sj[keep], np.rint(tt[keep]).astype(np.int64)
    names = [str(i) for i in weak_ids] if weak_ids is not None else [str(i) for i in range(n_weak)]
    assigned = _assignment(n_weak, n_strong, wi, sj, tt, k)
    if assigned is not None:
        partner, ptime = assigned
        return PairingSolution(partner=partner, time_s=ptime, unpaired={}, objective=int(ptime.sum()))
    src, sink = n_weak + n_strong, n_weak + n_strong + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([np.full(n_weak, src), wi, n_weak + np.arange(n_strong)])
    heads = np.concatenate([np.arange(n_weak), n_weak + sj, np.full(n_strong, sink)])
    caps = np.concatenate([np.ones(n_weak, np.int64), np.ones(len(wi), np.int64), np.full(n_strong, k, np.int64)])
    costs = np.concatenate([np.zeros(n_weak, np.int64), tt, np.zeros(n_strong, np.int64)])
    if len(tails):
        flow.add_arcs_with_capacity_and_unit_cost(
            tails.astype(np.int32), heads.astype(np.int32), caps, costs
        )
    partner = np.full(n_weak, -1, np.int64)
    ptime = np.full(n_weak, -1, np.int64)
    if len(wi):
        flow.set_node_supply(src, n_weak)  # as much as can flow; the max-flow solve allows a shortfall
        flow.set_node_supply(sink, -n_weak)
        status = flow.solve_max_flow_with_min_cost()
        if status != flow.OPTIMAL:
            raise SolverError(f"min-cost flow stopped with status {status}")
        f = flow.flows(np.arange(n_weak, n_weak + len(wi)))
        used = f > 0
        partner[wi[used]] = sj[used]
        ptime[wi[used]] = tt[used]
    reachable = np.zeros(n_weak, bool)
    reachable[wi] = True
    unpaired = {
        int(i): (PAIR_UNREACHABLE if not reachable[i] else PAIR_FULL)
        for i in np.nonzero(partner < 0)[0]
    }
    if unpaired and not allow_unpaired:
        raise InfeasibleError(
            f"{len(unpaired)} weak school(s) cannot be paired with a strong school",
            [Shortfall(names[i], 1, "strong partner", why, PAIR_KINDS[why], figures(school=str(names[i]))) for i, why in unpaired.items()],
            hint=f"raise the travel cap or k (now {k}), or allow unpaired schools",
        )
    return PairingSolution(partner=partner, time_s=ptime, unpaired=unpaired, objective=int(ptime[partner >= 0].sum()))


# --------------------------------------------------------------------------- frame level


@dataclass(frozen=True)
class LevelPairs:
    """Pairs of one level: the table, the weak schools left unpaired (rows), and the level's pair metrics."""

    pairs: pd.DataFrame
    unpaired: list[dict[str, Any]]
    metrics: dict[str, Any]


def pair_level(lv: str, sub: pd.DataFrame, t: NDArray[np.float64], *, options: CommunityOptions) -> LevelPairs:
    """Pair the weak schools of one level with its strong ones.

    Parameters
    ----------
    lv
        Level name (``primary``, ``junior`` or ``all``).
    sub
        The level's schools: ``strength, strength_class`` indexed by ``school_id``.
    t
        Travel seconds among them (rows origins).
    options
        ``pair_k``, ``max_travel_min`` and ``allow_unassigned`` are used.

    Returns
    -------
    LevelPairs
        Metrics ``pairs, pair_travel_s, pair_gap`` (0: exact), ``pair_k`` (``None``
        when no pairing ran) and ``pair_note`` (why not).
    """
    ids = sub.index.to_numpy().astype(str)
    cls = sub["strength_class"].to_numpy()
    weak = np.nonzero(cls == "weak")[0]
    # no teaching point, small or incomplete school, nor one of another area type than the leads', is a strong partner
    partner_ok = may_lead(sub, min_pupils=options.lead_min_pupils, area_types=options.lead_area_types)
    strong = np.nonzero((cls == "strong") & partner_ok)[0]
    pair_rows: list[dict[str, Any]] = []
    unpaired: list[dict[str, Any]] = []
    pair_note = ""
    pair_obj = 0
    k = 0
    if options.pair_k is not None and options.pair_k <= 0:
        pair_note = "pairing off"
    elif len(weak) == 0:
        pair_note = "no weak school"
    elif len(strong) == 0:
        pair_note = "no strong school that may partner at this level: no pairs"
        logger.info("%s: no strong school, no one-to-one pairs", lv)
    else:
        cost = t[np.ix_(strong, weak)].T
        k = _smallest_k(cost, len(weak), len(strong), options.max_travel_s) if options.pair_k is None else options.pair_k
        ps = pair_schools(
            cost, k=k, max_travel_s=options.max_travel_s, weak_ids=list(ids[weak]), allow_unpaired=options.allow_unassigned
        )
        pair_obj = ps.objective
        strength = sub["strength"].to_numpy(np.float64)
        for w_pos, s_pos in enumerate(ps.partner):
            if s_pos >= 0:
                wi, si = weak[w_pos], strong[s_pos]
                pair_rows.append(
                    {
                        "level": lv,
                        "weak_id": ids[wi],
                        "strong_id": ids[si],
                        "time_s": int(ps.time_s[w_pos]),
                        "weak_strength": float(strength[wi]),
                        "strong_strength": float(strength[si]),
                    }
                )
        unpaired = [
            {"level": lv, "school_id": ids[weak[w]], "plan": "pair", "reason": _beyond(why, cost[w], ids[strong], options)}
            for w, why in ps.unpaired.items()
        ]
    pairs = pd.DataFrame(pair_rows, columns=PAIR_COLUMNS).sort_values("weak_id").reset_index(drop=True)
    metrics = {
        "pairs": len(pairs),
        "pair_travel_s": int(pair_obj),
        "pair_gap": 0.0,
        "pair_k": int(k) if pair_note == "" else None,
        "pair_note": pair_note,
    }
    return LevelPairs(pairs=pairs, unpaired=unpaired, metrics=metrics)


def _beyond(why: str, cost: NDArray[np.float64], strong_ids: NDArray[np.str_], options: CommunityOptions) -> str:
    """The reason a weak school is unpaired, with the nearest strong school beyond the cap when none is in reach."""
    if why != PAIR_UNREACHABLE or not np.isfinite(cost).any():
        return why
    k = int(np.argmin(cost))
    return f"{why}; nearest beyond the cap: {strong_ids[k]}, {cost[k] / 60:.0f} min away (cap {options.max_travel_min:.0f} min)"


def _smallest_k(cost: NDArray[np.float64], n_weak: int, n_strong: int, max_travel_s: float) -> int:
    """The smallest k that pairs every weak school in reach (none left out because partners are full)."""
    k = max(1, math.ceil(n_weak / n_strong))
    while True:
        ps = pair_schools(cost, k=k, max_travel_s=max_travel_s, allow_unpaired=True)
        if k >= n_weak or all(why != PAIR_FULL for why in ps.unpaired.values()):
            return k
        k += 1


@dataclass(frozen=True)
class PairPlan:
    """One-to-one pairs of a county.

    Attributes
    ----------
    pairs
        ``level, weak_id, strong_id, time_s, weak_strength, strong_strength``.
    unpaired
        Weak schools left unpaired and why: ``level, school_id, plan`` (``pair``), ``reason``.
    metrics
        Per level: ``pairs, pair_travel_s, pair_gap, pair_k, pair_note``.
    """

    pairs: pd.DataFrame
    unpaired: pd.DataFrame
    metrics: Mapping[str, Any] = field(default_factory=dict)


def form_pairs(
    schools: pd.DataFrame, strength: pd.DataFrame, travel: TravelMatrix, *, options: CommunityOptions | None = None
) -> PairPlan:
    """Pair every weak school with a strong school of its level (frame level; see the module docstring).

    Parameters
    ----------
    schools
        Schools layer (``school_id``, ``level``).
    strength
        :func:`planning.balance.strength_from_frames` output (indexed by ``school_id``).
    travel
        Schools × schools travel matrix, rows = origins.
    options
        ``levels``, ``pair_k``, ``max_travel_min``, ``allow_unassigned`` (default :class:`CommunityOptions`).

    Returns
    -------
    PairPlan

    Raises
    ------
    InputError
        Schools missing from the strength frame or the travel matrix.
    InfeasibleError
        A weak school cannot be paired, unless ``allow_unassigned``.
    """
    opts = options or CommunityOptions()
    problems = strength_problems(schools, strength)
    if problems:
        raise InputError(problems)
    pairs, unpaired = [], []
    metrics: dict[str, Any] = {}
    for lv, sub in level_runs(school_info(schools, strength), opts.levels):
        if sub.empty:
            continue
        lp = pair_level(lv, sub, travel_among(travel, sub.index.to_numpy()), options=opts)
        pairs.append(lp.pairs)
        unpaired.append(pd.DataFrame(lp.unpaired, columns=UNASSIGNED_COLUMNS))
        metrics[lv] = lp.metrics
    return PairPlan(pairs=concat(pairs, PAIR_COLUMNS), unpaired=concat(unpaired, UNASSIGNED_COLUMNS), metrics=metrics)
