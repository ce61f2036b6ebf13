"""Anytime phase of optimal zones: what is left of the time limit improves the first plan and proves it.

The fast path (relaxation, priced chains, local search) gives a first plan in
seconds. This phase then runs a schedule of steps, each CP-SAT search hinted
with the best plan so far, until the proven gap is at most the tolerance, the
next step does not fit in the deterministic budget left or the wall deadline
passes. The schedule is fixed: the knapsack bound (a fixed charge,
:data:`KNAPSACK_WORK`) when the first plan's gap is at most
:data:`KNAPSACK_FIRST_GAP` (where it may close the gap; a larger gap waits
for it until the proof's turn), then, when the gap is above
:data:`REGRET_FIRST_GAP`, a sweep of regret windows over every seed (it stops
when it buys less than :data:`REGRET_MIN_YIELD`), then
windows in a deterministic order (of :data:`WINDOW_FIRST_SCHOOLS` schools in
the first :data:`WINDOW_FIRST_UNITS` units), the proof once
the windows have spent :data:`PROOF_AFTER` units (or have run out), then
windows again. Every step has its own budget, a function of the plan so far
only (:func:`_step`), and a step that does not fit ends the phase (it is not
shortened, nor skipped for a smaller one): so a run given less work is a
prefix of a run given more, and a longer limit never gives a worse plan (up to
the wall clock, the backstop below). The steps:

- **Neighbourhood search** (:func:`_neighbourhoods`). A window is a group of
  neighbouring zones: a seed school and the schools whose blocks compete with
  it most (blocks having both among their few cheapest schools). Every block
  of the window's zones is freed, everything else fixed, and the window is
  re-solved with :func:`planning.zones.repair.solve_sub` (each block may take
  its own school, the window's and, among its cheapest, those with free seats:
  :data:`WINDOW_OWN_ONLY`); the plan is kept when it costs less. When a seed's window gives nothing and
  holds no free seat (every school's seat price above 0), its *chain* window
  is tried if it reaches cheaper room: from the seed, each next school is the
  competing one with the lowest seat price, down to where there is room (at tight
  capacity a better plan often needs a chain of moves across several zones
  towards the free seats, which a compact group of six does not hold; on the
  suite's town at slack 1.01 this took the 15 s plan from 2.1 % to 1.5 %
  above the best bound). Seeds are taken in decreasing reduced cost of their
  zones (where the plan departs most from the relaxation); a pass with no
  improvement makes the windows larger. Before its compact window, a seed
  tries its *regret* window (:func:`_try_regret`) when the school where its
  worst-placed block is cheapest at the seat prices lies outside the compact
  window: the seed and the chain from that school down the seat prices. At
  tight capacity the largest reduced costs are blocks kept at a near, dear
  school while the relaxation sends them along a chain of full schools (two
  towns at slack 1.01: three blocks carried half of the plan's cost above the
  relaxation), which no window of competing schools around the seed holds; on
  the suite's 1,000 x 40, 12 units, it took two towns 1.01 from +0.83 % to
  +0.18 % above the best bound, town 1.01 +1.01 → +0.83 %, two towns 1.06
  +0.50 → +0.22 % (6 units: two towns 1.01 +0.88 → +1.20 %, the others better).
- **Knapsack bound** (:mod:`planning.zones.lagrange`, hard seats and no
  stability cap only). First (at a small gap; else at the proof's turn), the Lagrangian bound with one 0/1
  knapsack per school (blocks priced out of "exactly one school") raises the
  relaxation's bound where whole blocks cannot fill a school's seats exactly;
  at most :data:`KNAPSACK_WORK`, charged per knapsack cell (on
  the suite's 1,000 x 40 at slack 1.01, given 3 units: uniform 7,417,019 →
  7,429,058, within 0.01 % of HiGHS's 60 s bound; town 8,235,132 → 8,238,176).
- **Proof** (:func:`_prove`). With seat prices ``π_j ≥ 0`` (the relaxation's
  duals) the Lagrangian ``L(π) = Σ_i min_j d_i (c_ij + π_j) − Σ_j π_j c_j`` is
  a lower bound, and a pair's reduced cost ``r_ij = d_i (c_ij + π_j) − min_k
  d_i (c_ik + π_k)`` is what it adds to ``L`` in any plan using it; so no plan
  cheaper than the best one ``UB`` uses a pair with ``r_ij > UB − L(π)``
  (reduced-cost fixing). CP-SAT over the pairs left, hinted with the plan,
  therefore has the problem's own optimum: its bound is a valid bound of the
  problem (reported when better than the relaxation's) and its plan, when
  cheaper, is kept. It runs once, when the pairs left are at most
  :data:`PROOF_MAX_PAIRS` and it ends within :data:`PROOF_END` units spent, for a deterministic time in proportion to them
  (:data:`PROOF_TIME_PER_PAIR`, at most :data:`PROOF_MAX_TIME`).

Contiguity. With a block graph the windows keep the rule "a block may belong
to ``j`` only if one of its neighbours does" and a window's plan is kept only
when it leaves no more detached pieces among its zones than before; the
proof's bound (of the problem without contiguity) is still a valid bound.

Determinism: one CP-SAT worker, fixed seed, deterministic-time limits charged
to the :class:`planning.zones.repair.WorkBudget` (and the first plan's own work,
:data:`FIRST_PLAN_WORK_PER_PAIR`, charged on entry); the wall deadline is a hard
cap only (see there): when it stops a search the plan's ``details["wall_cap"]``
says so (in ``metrics.json``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from planning.zones.contiguity import detached_pieces, neighbour_rule
from planning.zones.instance import BlockGraph, Instance, excess, pair_index, students_at
from planning.zones.lagrange import knapsack_bound
from planning.zones.repair import REPAIR_CANDIDATES, WORK_PER_VARIABLE, Cut, Repair, WorkBudget, solve_sub
from planning.zones.rounding import LocalPairs, seat_prices

logger = logging.getLogger(__name__)

#: Schools in a window at first; a pass with no improvement multiplies it by WINDOW_GROWTH.
WINDOW_SCHOOLS = 6
WINDOW_GROWTH = 1.6
#: Schools in a window (regret and compact) while the work spent, the first plan's included, is below
#: WINDOW_FIRST_UNITS (a 15 s run's budget): smaller windows buy more in the first units, larger ones after. Five
#: from the start, on the suite's rows at slack 1.01-1.06 up to 6,000 x 150, 6 units: two towns 1,000 x 40 at 1.01
#: +0.563 -> +0.157 %, town 6,000 x 150 +0.926 -> +0.883 %, 14 of 18 rows better; but at 24 units two towns
#: 1,000 x 40 at 1.03 +0.124 -> +0.325 % and at 1.06 +0.119 -> +0.212 %. Six from the start, the README's
#: "The first 6 units, round 31" has every row.
WINDOW_FIRST_SCHOOLS = 5
WINDOW_FIRST_UNITS = 6.0
#: A block's cheapest schools that make two schools compete (window neighbours).
COMPETING_CANDIDATES = 4
#: Deterministic time of a window solve per freed block, and its bounds (about seconds).
WINDOW_TIME_PER_BLOCK = 0.002
WINDOW_MIN_TIME, WINDOW_MAX_TIME = 0.2, 4.0
#: Whether a window's blocks may take only its schools and, among their cheapest, those with free
#: seats: a smaller model than with each block's cheapest schools (outside the window they are
#: mostly full at tight capacity), so more windows in the same work. With it and the window charge
#: counted per variable, on the suite's 1,000 x 40 given 6 units (against each block's cheapest and
#: a charge per pair): town 1.01 +1.29 -> +1.31 % above the bound, two towns 1.01 +0.94 -> +0.89 %,
#: two towns 1.06 +1.09 -> +0.54 %.
WINDOW_OWN_ONLY = True
#: Most work one window may be charged (its model's build and its time): larger ones are not solved.
WINDOW_MAX_WORK = 6.0
#: Most pairs the proof model is built with (more: no proof, the windows have the budget; the
#: previous rule, at most 2,500 pairs per unit left, never started one on 6,000 x 150's 120,000).
PROOF_MAX_PAIRS = 40_000
#: Work the windows spend before the proof is tried (once), and the proof's deterministic time per pair
#: left by reduced-cost fixing, at most PROOF_MAX_TIME: fixed, so the proof's outcome is the same
#: whatever the budget (a schedule of fixed steps, see the module docstring).
PROOF_AFTER = 16.0
PROOF_TIME_PER_PAIR = 5e-4
PROOF_MAX_TIME = 12.0
#: Work spent (the first plan's included) by which the proof must end to run: one that would end later is not run
#: and the windows keep the budget. 24 units is a 60 s run's budget (WORK_PER_SECOND): a step that does not fit ends
#: the phase, and at 60 s the proof's turn comes at about 17 units (PROOF_AFTER, the first plan's charge, the
#: knapsack bound), so a larger proof (two towns and town 1,000 x 40, 12,000-18,500 pairs, 7.4-10.8 units; uniform
#: 3,000 x 80 at 1.06, 39,200 pairs) ended every 60 s run there with 7 units unused. A fixed point, not the budget,
#: so the schedule stays the same for every limit. Without those proofs, 60 s, 1,000 x 40: two towns 1.01 +0.277 ->
#: +0.097 % above the best bound, town 1.01 +0.563 -> +0.501 %, town 1.03 +0.621 -> +0.605 %, two towns 1.06 +0.128
#: -> +0.119 %, town 1.06 +0.115 -> +0.109 %; uniform 3,000 x 80 at 1.06 +0.041 -> +0.036 %.
PROOF_END = 24.0
#: Work charged, per pair, for the first plan's own computing (relaxation, rounding, chains:
#: numpy and Python, outside CP-SAT's deterministic time) before this phase spends the rest:
#: 5-7 CPU microseconds per pair on the suite's uniform and valley instances, 25 on its town
#: at slack 1.01 (long chains), with a work unit about a CPU second.
FIRST_PLAN_WORK_PER_PAIR = 8e-6
#: Wall seconds building the proof model takes per pair, about (in Python): no proof is
#: started that could not be built before the deadline.
PROOF_BUILD_S_PER_PAIR = 4e-5
#: Work the knapsack bound may take (a fixed charge, before the windows) and its work per knapsack
#: cell (about 1e8 cells per CPU second, a work unit about a CPU second).
KNAPSACK_WORK = 0.6
WORK_PER_CELL = 1e-8
#: Gap (to the bound so far) above which the knapsack bound waits for the proof's turn (PROOF_AFTER) instead of
#: running first: at 0.6 units it raised the bound by at most 0.11 % on the suite's 1,000 x 40 rows (nothing on two
#: towns and town at 1.01), so above 0.2 % it cannot close the gap to the tolerance and its work goes to the windows.
#: Given 6 units (15 s), slack 1.01-1.06, against the knapsack first: town 1.01 +1.076 -> +0.983 % above the best
#: bound, valley 1.01 +0.343 -> +0.301 %, uniform 1.06 +0.144 -> +0.130 %, town 1.06 +0.155 -> +0.147 %, the other
#: eight rows equal or within 0.004 %; the bound reported at such a limit is then the relaxation's.
KNAPSACK_FIRST_GAP = 0.002
#: Sweeps of regret windows alone (:func:`_regret_sweeps`) before the compact windows, while the gap is above
#: REGRET_FIRST_GAP. A regret window is small (the seed and a chain of five schools down the seat prices) and at a
#: large gap buys far more per unit than a compact one (6 units, knapsack first, 1,000 x 40: two towns 1.01 0.77
#: units bought 65,618 s, the compact windows 20,000 s with 3.8; two towns 1.06 193,000 s against 18,000 s). One
#: sweep over every seed first, 6 units: two towns 1.01 +1.202 -> +0.801 %, town 1.01 +1.076 -> +0.861 %, town 1.03
#: +1.099 -> +0.900 %, two towns 1.06 +0.486 -> +0.219 %, uniform 1.06 +0.144 -> +0.120 %; but uniform and valley at
#: 1.01 (first plans 0.7-0.9 % above the relaxation) +0.202 -> +0.217 % and +0.343 -> +0.371 %, so only above 1 %
#: (the first plans of town and two towns at 1.01-1.06 were 1.7-2.8 % above it). Three sweeps did worse than one.
REGRET_SWEEPS = 1
REGRET_FIRST_GAP = 0.01
#: The sweep stops on its yield: once it has spent REGRET_SPAN units, when the plan's cost fell by less than
#: REGRET_MIN_YIELD x (cost - bound) / schools per unit over its last REGRET_SPAN units or more (below what a compact
#: window buys: on the suite's 1,000 x 40 at slack 1.01-1.06, 6 units, 2.6-3.7 times the gap per school; on town
#: 6,000 x 150 at 1.01 the sweep's last 6 of its 10.5 units bought 0.6-1.9 times it, the compact windows after 3.7).
#: Town 6,000 x 150 at 24 units +0.612 -> +0.572 %, two towns 1,000 x 40 at 1.03 +0.124 -> +0.135 %, the other
#: sweeping rows the same; 3 instead of 2 the same but for 0.001 points; 6 units unchanged (the sweep still pays).
REGRET_SPAN = 1.0
REGRET_MIN_YIELD = 2.0

@dataclass(frozen=True)
class Anytime:
    """The result of the anytime phase.

    Attributes
    ----------
    school
        The best plan found (the first plan when nothing better was).
    bound
        The best proven lower bound (the relaxation's or CP-SAT's, whichever is higher).
    windows, improvements
        Window solves run and kept.
    proof_status
        CP-SAT status of the proof (``""`` when it did not run).
    proof_pairs
        Pairs left by reduced-cost fixing (0 when the proof did not run).
    bound_source
        Where :attr:`bound` comes from: ``relaxation``, ``knapsack`` (the
        Lagrangian bound, :mod:`planning.zones.lagrange`) or ``cp-sat`` (the proof).
    """

    school: NDArray[np.int64]
    bound: float
    windows: int
    improvements: int
    proof_status: str
    proof_pairs: int
    bound_source: str = "relaxation"


def plan_cost(p: Instance, school: NDArray[np.int64], penalty: int | None) -> int:
    """Objective of a plan: Σ students × (travel + stability penalty), plus overflow at ``penalty`` when allowed."""
    pair = pair_index(p, np.arange(len(school)), school)
    ok = (pair >= 0) & (p.demand > 0)
    cost = int((p.cost[pair[ok]] * p.demand[ok]).sum())
    if penalty is not None:
        cost += penalty * int(np.maximum(students_at(p, school) - p.capacity, 0).sum())
    return cost


def gap_of(cost: float, bound: float) -> float:
    """``(cost − bound) / cost``, 0 when the bound meets the cost."""
    return 0.0 if cost <= bound else (cost - bound) / max(cost, 1.0)


def _competition(p: Instance) -> sp.csr_array:
    """School × school: blocks having both among their :data:`COMPETING_CANDIDATES` cheapest schools."""
    n, m = len(p.demand), len(p.capacity)
    rank = np.arange(len(p.origin)) - p.start[p.origin]
    near = (rank < COMPETING_CANDIDATES) & (p.demand[p.origin] > 0)
    b = sp.csr_array((np.ones(int(near.sum())), (p.origin[near], p.dest[near])), shape=(n, m))
    return sp.csr_array(b.T @ b)


def _window(comp: sp.csr_array, seed: int, size: int) -> NDArray[np.int64]:
    """The seed and the ``size − 1`` schools competing most with the group so far (ties: lower index)."""
    m = comp.shape[0]
    inside = np.zeros(m, bool)
    inside[seed] = True
    score = np.zeros(m)
    row = comp[[seed], :].toarray().ravel()
    for _ in range(min(size, m) - 1):
        score += row
        cand = np.where(inside | (score <= 0), -np.inf, score)
        k = int(np.argmax(cand))
        if not np.isfinite(cand[k]):
            break
        inside[k] = True
        row = comp[[k], :].toarray().ravel()
    return np.flatnonzero(inside)


def _chain_window(comp: sp.csr_array, prices: NDArray[np.float64], seed: int, size: int) -> NDArray[np.int64]:
    """The seed and a chain of competing schools down the seat prices: where its students' room is made.

    From the last school taken, the next is the competing school with the lowest
    seat price (ties: more competition, then the lower index), until ``size``
    schools or no competing school is left.
    """
    m = comp.shape[0]
    inside = np.zeros(m, bool)
    inside[seed] = True
    last = seed
    for _ in range(min(size, m) - 1):
        row = comp[[last], :].toarray().ravel()
        cand = np.flatnonzero((row > 0) & ~inside)
        if not len(cand):
            break
        last = int(cand[np.lexsort((cand, -row[cand], prices[cand]))[0]])
        inside[last] = True
    return np.flatnonzero(inside)


@dataclass
class _State:
    """The search so far."""

    school: NDArray[np.int64]
    cost: int
    bound: float
    windows: int = 0
    improvements: int = 0
    source: str = "relaxation"
    done: bool = False  # a step did not fit in the budget left: the phase has ended
    proof: tuple[str, int] | None = None  # the proof's status and pairs, once tried
    knapsack: bool = False  # the knapsack bound has had its turn
    unchanged: dict[tuple[tuple[int, ...], bytes, float], int] = field(default_factory=dict)  # window -> plan cost when solved


def _zone_regret(p: Instance, school: NDArray[np.int64], prices: NDArray[np.float64]) -> NDArray[np.float64]:
    """Reduced cost each zone's blocks carry at the seat prices: where the plan departs from the relaxation."""
    m = len(p.capacity)
    red = (p.cost + prices[p.dest]) * p.demand[p.origin]
    best = np.full(len(p.demand), np.inf)
    np.minimum.at(best, p.origin, red)
    pair = pair_index(p, np.arange(len(school)), school)
    ok = (pair >= 0) & (p.demand > 0)
    rc = red[pair[ok]] - best[ok]
    return np.bincount(school[ok], weights=rc.astype(float), minlength=m).astype(np.float64)


def _try_window(
    r: Repair, st: _State, free: NDArray[np.int64], zones: NDArray[np.int64], graph: BlockGraph | None, det: float
) -> bool:
    """Re-solve the ``free`` blocks from the best plan; keep the result when it costs less (and keeps zones whole).

    A window already solved from this very plan (:attr:`_State.unchanged`: the same zones, blocks and time, the
    plan's cost the same, so no plan kept since) is not solved again: its model, and so its answer, would be the same.
    """
    p = r.p
    key = (tuple(zones.tolist()), hashlib.blake2b(free.tobytes(), digest_size=16).digest(), det)  # 16 bytes per window
    if st.unchanged.get(key) == st.cost:
        return False
    cuts: list[Cut] = []
    if graph is not None:
        cand = [p.dest[p.start[i] : p.start[i + 1]] for i in free.tolist()]
        cuts = [Cut(j, pc, bd) for j, pc, bd in neighbour_rule(free, st.school, cand, graph.adjacency, graph.roots)]
    allowed = _window_allowed(p, st.school, free, zones)
    schools = zones.tolist() if allowed is None else _by_block(p, allowed)
    charge = _window_charge(p, st.school, free, allowed, cuts) + det
    if charge > WINDOW_MAX_WORK:
        return False  # too large a model for its gain (whatever the budget)
    step = _step(r, st, charge)
    if step is None:
        return False
    got = solve_sub(step, st.school, free, cuts=cuts, deterministic_time=det, schools=schools)
    _settle(r, step)
    st.windows += 1
    st.unchanged[key] = st.cost  # the plan's cost falls whenever another is kept, so this marks this very plan
    if got is None or got[2] > 0 or got[1] not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    new = got[0]
    if excess(p, new, r.max_moved, r.overflow_penalty_s) > 0:
        return False
    cost = plan_cost(p, new, r.overflow_penalty_s)
    if cost >= st.cost:
        return False
    if not _no_new_pieces(p, graph, st.school, new):
        return False
    st.school, st.cost = new, cost
    st.improvements += 1
    return True


def _window_allowed(
    p: Instance, school: NDArray[np.int64], free: NDArray[np.int64], zones: NDArray[np.int64]
) -> NDArray[np.bool_] | None:
    """Pairs a window's blocks may take besides their own, with :data:`WINDOW_OWN_ONLY`: the window's schools
    and, among each block's :data:`planning.zones.repair.REPAIR_CANDIDATES` cheapest, those with free seats
    (a mask over the pairs); ``None`` without it (each block's cheapest schools and the window's)."""
    if not WINDOW_OWN_ONLY:
        return None
    room = students_at(p, school) < p.capacity
    inside = np.zeros(len(p.capacity), bool)
    inside[zones] = True
    rank = np.arange(len(p.origin)) - p.start[p.origin]
    block = np.zeros(len(p.demand), bool)
    block[free] = True
    return block[p.origin] & (inside[p.dest] | (room[p.dest] & (rank < REPAIR_CANDIDATES)))


def _by_block(p: Instance, allowed: NDArray[np.bool_]) -> dict[int, set[int]]:
    """The pairs ``allowed`` as block → schools."""
    out: dict[int, set[int]] = {}
    for i, j in zip(p.origin[allowed].tolist(), p.dest[allowed].tolist(), strict=True):
        out.setdefault(i, set()).add(j)
    return out


def _window_charge(
    p: Instance, school: NDArray[np.int64], free: NDArray[np.int64], allowed: NDArray[np.bool_] | None, cuts: list[Cut]
) -> float:
    """Most work building a window's model can be charged: a variable per candidate pair of a free block
    (those ``allowed``, :func:`_window_allowed`, its own and its cuts' schools; else every pair) and an
    overflow count per school (its deterministic time comes on top).

    A window charged more than :data:`WINDOW_MAX_WORK` is not solved (on 6,000 x 150 windows grown
    to most of the schools built models charged more than a 12-unit budget).
    """
    k = np.concatenate([np.arange(p.start[i], p.start[i + 1]) for i in free.tolist()] or [np.zeros(0, np.int64)])
    if allowed is None:
        return WORK_PER_VARIABLE * (len(k) + len(np.unique(p.dest[k])))
    is_free = np.zeros(len(p.demand), bool)
    is_free[free] = True
    blocks, schools = [free], [school[free]]  # own pairs, then the cuts' (one pair_index call)
    for c in cuts:
        border = c.border[is_free[c.border]]
        blocks.append(border)
        schools.append(np.full(len(border), c.school))
    at = pair_index(p, np.concatenate(blocks), np.concatenate(schools))
    used = allowed.copy()
    used[at[at >= 0]] = True
    variables = int(used[k].sum()) + len(np.unique(p.dest[k[used[k]]]))
    return WORK_PER_VARIABLE * variables


def _step(r: Repair, st: _State, charge: float) -> Repair | None:
    """The repair context of one step with its own budget of ``charge`` units; ``None`` when it does not fit.

    A step that does not fit in the budget left ends the phase (:attr:`_State.done`)
    rather than running shortened or being skipped for a smaller one: so every
    step runs the same whatever the budget, and a run with a smaller budget is a
    prefix of one with a larger (whose plan is then never worse). The step's own
    budget keeps the wall deadline (the clock stays a hard cap).
    """
    if st.done or r.budget.spent + charge > r.budget.limit or r.budget.exhausted():
        st.done = True
        return None
    return dataclasses.replace(r, budget=WorkBudget(charge, deadline=r.budget.deadline))


def _settle(r: Repair, step: Repair) -> None:
    """Charge a step's work (and its wall stops) to the phase's budget."""
    r.budget.spent += step.budget.spent
    r.budget.wall_stops += step.budget.wall_stops


def _no_new_pieces(p: Instance, graph: BlockGraph | None, old: NDArray[np.int64], new: NDArray[np.int64]) -> bool:
    """Whether the zones ``new`` changes have no more detached pieces than in ``old`` (always, without a graph)."""
    if graph is None:
        return True
    changed = old != new
    zones = np.unique(np.r_[old[changed], new[changed]])
    zones = zones[zones >= 0]
    before = detached_pieces(np.where(np.isin(old, zones), old, -1), graph.adjacency, graph.roots, p.connector)
    after = detached_pieces(np.where(np.isin(new, zones), new, -1), graph.adjacency, graph.roots, p.connector)
    return len(after) <= len(before)


def _try_chain(r: Repair, st: _State, zones: NDArray[np.int64], graph: BlockGraph | None, movable: NDArray[np.bool_]) -> bool:
    """A chain window (:func:`_chain_window`), tried when the compact window of its seed gave nothing."""
    free = np.flatnonzero(np.isin(st.school, zones) & movable)
    if len(zones) < 2 or not len(free) or st.done:
        return False
    det = min(max(WINDOW_TIME_PER_BLOCK * len(free), WINDOW_MIN_TIME), WINDOW_MAX_TIME)
    return _try_window(r, st, free, zones, graph, det)


def _worst_block_target(p: Instance, school: NDArray[np.int64], prices: NDArray[np.float64], zone: int) -> int:
    """The school where the block of ``zone`` with the largest reduced cost is cheapest at the seat prices (-1: none)."""
    red = (p.cost + prices[p.dest]) * p.demand[p.origin]
    best = np.full(len(p.demand), np.inf)
    np.minimum.at(best, p.origin, red)
    blocks = np.flatnonzero((school == zone) & (p.demand > 0))
    if not len(blocks):
        return -1
    pair = pair_index(p, blocks, school[blocks])
    rc = np.where(pair >= 0, red[pair] - best[blocks], 0.0)
    if rc.max() <= 0:
        return -1
    i = int(blocks[int(np.argmax(rc))])
    lo, hi = int(p.start[i]), int(p.start[i + 1])
    return int(p.dest[lo + int(np.argmin(red[lo:hi]))])


def _try_regret(
    r: Repair, st: _State, comp: sp.csr_array, prices: NDArray[np.float64], seed: int, zones: NDArray[np.int64],
    *, graph: BlockGraph | None, movable: NDArray[np.bool_],
) -> bool:
    """A regret window: the seed and the chain down the seat prices (:func:`_chain_window`, as many schools
    as its compact window ``zones`` less one) from the school where the seed's worst-placed block is
    cheapest, when that school is not in ``zones``."""
    if st.done:
        return False
    target = _worst_block_target(r.p, st.school, prices, seed)
    if target < 0 or target in set(zones.tolist()):
        return False
    chain = _chain_window(comp, prices, target, max(len(zones) - 1, 1))
    return _try_chain(r, st, np.union1d(chain, [seed]), graph, movable)


def _regret_sweeps(
    r: Repair, st: _State, comp: sp.csr_array, prices: NDArray[np.float64], graph: BlockGraph | None, *,
    movable: NDArray[np.bool_], tolerance: float,
) -> None:
    """Regret windows alone (:func:`_try_regret`) over every seed, in decreasing regret of its zone, before the
    compact windows: while the plan's gap is above :data:`REGRET_FIRST_GAP`, at most :data:`REGRET_SWEEPS` sweeps,
    a sweep that improves nothing ending them, and no longer once they stop paying (:func:`_sweep_pays`)."""
    m = len(r.p.capacity)
    trail: list[tuple[float, int]] = [(r.budget.spent, st.cost)]  # work spent and the plan's cost after each window
    for _ in range(REGRET_SWEEPS):
        if st.done or gap_of(st.cost, st.bound) <= max(REGRET_FIRST_GAP, tolerance):
            return
        order = np.lexsort((np.arange(m), -_zone_regret(r.p, st.school, prices)))
        improved = False
        for seed in order.tolist():
            zones = _window(comp, seed, _schools(r.budget.spent))
            improved = _try_regret(r, st, comp, prices, seed, zones, graph=graph, movable=movable) or improved
            trail.append((r.budget.spent, st.cost))
            if st.done or gap_of(st.cost, st.bound) <= tolerance or not _sweep_pays(trail, st.bound, m):
                return
        if not improved:
            return


def _sweep_pays(trail: list[tuple[float, int]], bound: float, schools: int) -> bool:
    """Whether the regret sweep still pays (:data:`REGRET_MIN_YIELD`): ``trail`` holds the work spent and the
    plan's cost after each of its windows (its start first). True until it has spent :data:`REGRET_SPAN`."""
    spent, cost = trail[-1]
    if spent - trail[0][0] < REGRET_SPAN:
        return True
    since, then = next((u, c) for u, c in reversed(trail) if u <= spent - REGRET_SPAN)  # REGRET_SPAN units ago at least
    return then - cost >= REGRET_MIN_YIELD * (spent - since) * max(cost - bound, 0.0) / schools


def _schools(spent: float) -> int:
    """Schools in a window at least, with ``spent`` units spent: :data:`WINDOW_FIRST_SCHOOLS`, then :data:`WINDOW_SCHOOLS`."""
    return WINDOW_FIRST_SCHOOLS if spent < WINDOW_FIRST_UNITS else WINDOW_SCHOOLS


def _neighbourhoods(
    r: Repair, st: _State, prices: NDArray[np.float64], graph: BlockGraph | None, *, tolerance: float, price: int
) -> None:
    """Window solves over groups of neighbouring zones, the proof once they have spent :data:`PROOF_AFTER`
    (see the module docstring), until a step does not fit in the budget or the gap is closed."""
    p = r.p
    m = len(p.capacity)
    comp = _competition(p)
    movable = (p.start[1:] > p.start[:-1]) & ((p.demand > 0) | (graph is not None))
    pinned = np.zeros(len(p.demand), bool)
    pinned[list(r.roots.values())] = True
    size = float(_schools(r.budget.spent))
    start = r.budget.spent
    _regret_sweeps(r, st, comp, prices, graph, movable=movable & ~pinned, tolerance=tolerance)
    while not st.done and gap_of(st.cost, st.bound) > tolerance:
        order = np.lexsort((np.arange(m), -_zone_regret(p, st.school, prices)))
        clean = np.zeros(m, bool)  # zones of windows solved without change since they last changed
        improved = False
        for seed in order.tolist():
            if clean[seed]:
                continue
            if st.proof is None and r.budget.spent - start >= PROOF_AFTER:
                _knapsack_bound(r, st, prices, price, tolerance)
                before = st.cost
                st.proof = _prove(r, st, prices, price, graph)
                if st.cost < before:
                    improved = True
                    clean[:] = False
                if st.done or gap_of(st.cost, st.bound) <= tolerance:
                    return
            size = max(size, float(_schools(r.budget.spent)))
            zones = _window(comp, seed, int(size))
            free = np.flatnonzero(np.isin(st.school, zones) & movable & ~pinned)
            if not len(free):
                continue
            det = min(max(WINDOW_TIME_PER_BLOCK * len(free), WINDOW_MIN_TIME), WINDOW_MAX_TIME)
            chain = _chain_window(comp, prices, seed, int(size))
            full = prices[zones].min() > 0 and prices[chain].min() < prices[zones].min()  # room only beyond the group
            if (
                _try_regret(r, st, comp, prices, seed, zones, graph=graph, movable=movable & ~pinned)
                or _try_window(r, st, free, zones, graph, det)
                or (full and _try_chain(r, st, chain, graph, movable & ~pinned))
            ):
                improved = True
                clean[:] = False
            else:
                clean[zones] = True
                if full:  # the chain's zones were re-solved too, without change
                    clean[chain] = True
            if st.done or gap_of(st.cost, st.bound) <= tolerance:
                return
        if size >= m and not improved:
            return
        if not improved:
            size = min(size * WINDOW_GROWTH, float(m))


def lagrangian(p: Instance, prices: NDArray[np.float64], r: Repair, price: int) -> tuple[float, NDArray[np.float64]]:
    """``L(π)`` and every pair's reduced cost (see the module docstring), with the stability price ``price``."""
    unit = p.cost + np.int64(price) * p.moved + prices[p.dest]
    red = unit * p.demand[p.origin].astype(float)
    best = np.full(len(p.demand), np.inf)
    np.minimum.at(best, p.origin, red)
    has = np.isfinite(best)
    value = float(best[has].sum()) - float((prices * p.capacity).sum())
    if r.max_moved is not None:
        value -= price * r.max_moved
    return value, red - best[p.origin]


def _proof_model(r: Repair, school: NDArray[np.int64], idx: NDArray[np.int64]) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """The proof's CP-SAT model over the pairs ``idx`` (hinted with ``school``) and its variables, one per pair."""
    p = r.p
    model = cp_model.CpModel()
    xs = [model.new_bool_var("") for _ in idx]
    by_block: dict[int, list[cp_model.IntVar]] = {}
    by_school: dict[int, list[cp_model.LinearExpr]] = {}
    obj, moved = [], []
    for v, k in zip(xs, idx.tolist(), strict=True):
        i, j, d = int(p.origin[k]), int(p.dest[k]), int(p.demand[p.origin[k]])
        by_block.setdefault(i, []).append(v)
        by_school.setdefault(j, []).append(d * v)
        obj.append(int(p.cost[k]) * d * v)
        if p.moved[k]:
            moved.append(d * v)
        model.add_hint(v, bool(school[i] == j))
    for lits in by_block.values():
        model.add_exactly_one(lits)
    for j, terms in sorted(by_school.items()):
        if r.overflow_penalty_s is None:
            model.add(sum(terms) <= int(p.capacity[j]))
        else:
            o = model.new_int_var(0, int(p.demand.sum()), "")
            model.add(sum(terms) <= int(p.capacity[j]) + o)
            model.add_hint(o, max(0, int(students_at(p, school)[j] - p.capacity[j])))
            obj.append(int(r.overflow_penalty_s) * o)
    if r.max_moved is not None:  # every block with students is free here
        model.add(sum(moved) <= r.max_moved)
    model.minimize(sum(obj))
    return model, xs


def _prove(
    r: Repair, st: _State, prices: NDArray[np.float64], price: int, graph: BlockGraph | None
) -> tuple[str, int]:
    """CP-SAT over the pairs reduced-cost fixing leaves, hinted with the best plan; raises the bound and the plan.

    Its plan is taken when cheaper and (with ``graph``) no zone has more detached pieces.
    """
    p = r.p
    value, rc = lagrangian(p, prices, r, price)
    slack = st.cost - value
    keep = (rc <= slack + 1e-6) & (p.demand[p.origin] > 0)
    pair = pair_index(p, np.arange(len(st.school)), st.school)
    ok = (pair >= 0) & (p.demand > 0)
    keep[pair[ok]] = True  # the plan's own pairs (kept anyway up to rounding)
    pairs = int(keep.sum())
    det = min(PROOF_TIME_PER_PAIR * pairs, PROOF_MAX_TIME)
    charge = WORK_PER_VARIABLE * (pairs + len(p.capacity)) + det
    if pairs > PROOF_MAX_PAIRS or r.budget.spent + charge > PROOF_END or r.budget.wall_left() < PROOF_BUILD_S_PER_PAIR * pairs:
        return "", pairs
    step = _step(r, st, charge)
    if step is None:
        return "", pairs
    idx = np.flatnonzero(keep)
    model, xs = _proof_model(r, st.school, idx)
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = 1
    prm.random_seed = r.seed
    prm.linearization_level = 2
    prm.catch_sigint_signal = False
    step.budget.limit_call(prm, det, model)
    status = solver.solve(model)
    step.budget.charge(solver, model)
    step.budget.note_stop(solver, prm.max_deterministic_time)
    _settle(r, step)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        new = st.school.copy()
        for v, k in zip(xs, idx.tolist(), strict=True):
            if solver.boolean_value(v):
                new[int(p.origin[k])] = int(p.dest[k])
        cost = plan_cost(p, new, r.overflow_penalty_s)
        if cost < st.cost and excess(p, new, r.max_moved, r.overflow_penalty_s) == 0 and _no_new_pieces(p, graph, st.school, new):
            st.school, st.cost = new, cost
    got = solver.best_objective_bound
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN) and math.isfinite(got) and math.floor(got) > st.bound:
        # a proof stopped before it found a plan has proven its bound all the same (the hinted plan is in its model)
        st.bound, st.source = math.floor(got), "cp-sat"
    return solver.status_name(status), len(idx)


def improve(
    r: Repair,
    school: NDArray[np.int64],
    bound: float,
    *,
    pair_flow: NDArray[np.int64],
    price: int,
    graph: BlockGraph | None,
    tolerance: float,
) -> Anytime:
    """Improve ``school`` and its ``bound`` with what is left of ``r.budget`` (see the module docstring).

    Parameters
    ----------
    r
        The repair context: instance, relaxation flow, roots, stability cap,
        overflow penalty, seed and the work budget (with its wall deadline).
    school
        The first plan (fits every hard rule).
    bound
        The relaxation's bound.
    pair_flow
        The relaxation's flow per pair (its seat prices are the duals).
    price
        Lagrangian price per moved student of the relaxation (0 without a binding cap).
    graph
        Block graph when zones must stay whole, else ``None``.
    tolerance
        Stop once ``(cost − bound) / cost`` is at most this.

    Returns
    -------
    Anytime
    """
    p = r.p
    r.budget.spent += FIRST_PLAN_WORK_PER_PAIR * len(p.origin)
    st = _State(school.copy(), plan_cost(p, school, r.overflow_penalty_s), float(bound))
    proof, proof_pairs = "", 0
    if gap_of(st.cost, st.bound) > tolerance and not r.budget.exhausted():
        flow_cost = p.cost + np.int64(price) * p.moved
        seats = p.capacity if r.overflow_penalty_s is None else np.maximum(p.capacity, students_at(p, school))
        priced = LocalPairs(origin=p.origin, dest=p.dest, cost=flow_cost, start=p.start, demand=p.demand)
        prices = seat_prices(priced, pair_flow, seats)
        if r.overflow_penalty_s is not None:
            prices = np.minimum(prices, float(r.overflow_penalty_s))
        if gap_of(st.cost, st.bound) <= KNAPSACK_FIRST_GAP:
            _knapsack_bound(r, st, prices, price, tolerance)
        if gap_of(st.cost, st.bound) > tolerance:
            _neighbourhoods(r, st, prices, graph, tolerance=tolerance, price=price)
        if st.proof is None and not st.done and gap_of(st.cost, st.bound) > tolerance:
            _knapsack_bound(r, st, prices, price, tolerance)
            st.proof = _prove(r, st, prices, price, graph)  # the windows ran out before PROOF_AFTER
        proof, proof_pairs = st.proof or ("", 0)
    logger.debug("anytime: %d windows, %d kept, proof %s on %d pairs", st.windows, st.improvements, proof, proof_pairs)
    return Anytime(st.school, st.bound, st.windows, st.improvements, proof, proof_pairs, st.source)


def _knapsack_bound(r: Repair, st: _State, prices: NDArray[np.float64], price: int, tolerance: float) -> None:
    """Raise ``st.bound`` with the Lagrangian knapsack bound (hard seats, no stability cap), its work charged."""
    if st.knapsack:
        return
    st.knapsack = True
    if r.overflow_penalty_s is not None or r.max_moved is not None or price or gap_of(st.cost, st.bound) <= tolerance:
        return
    step = _step(r, st, KNAPSACK_WORK)
    if step is None:
        return
    got = knapsack_bound(
        r.p, prices, float(st.cost), max_cells=KNAPSACK_WORK / WORK_PER_CELL, target=st.cost * (1.0 - tolerance),
        stop=lambda: step.budget.wall_left() <= 0,
    )
    if step.budget.wall_left() <= 0:
        step.budget.wall_stops += 1
    step.budget.spent += WORK_PER_CELL * got.cells
    _settle(r, step)
    if got.bound > st.bound:
        st.bound, st.source = got.bound, "knapsack"
