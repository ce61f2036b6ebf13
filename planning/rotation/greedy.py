"""A constructive start for the rotation model: exchanges added one at a time, each keeping every rule.

On large counties with the never-worse rows, CP-SAT can spend its whole limit without finding a
plan better than moving nobody: each move has to be paired with a return move that keeps staffing
whole, and most single moves raise some guarded CV (a teacher sent to a small village school raises
its teachers per 100 pupils). The greedy plan here gives the search a start that already meets what
it can of the quotas:

* candidates are *exchanges* — a teacher of unit ``a`` moves from school ``s`` to ``r`` and one of
  unit ``b`` of the same subject moves back from ``r`` to ``s`` (staffing per school and subject
  unchanged) — and, where the staffing bounds leave room, single moves;
* each step takes the candidate that lowers the model's objective most (commute and move costs,
  the deviation from each school's fair share, the quota shortfall penalties, exactly as the model
  counts them) among those that keep unit counts, move caps, staffing bounds and every never-worse
  row (the same scaled segment costs the model uses, :func:`planning.rotation.guard.segments`);
* it stops when no candidate lowers the objective.

The result is a flow the model accepts as is; the solve completes its other columns and improves it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from planning.rotation.guard import MAX_SEGMENTS, segments
from planning.rotation.problem import DEV_SCALE, INDICATORS, PERCENT, RotationProblem, fair_share, shortfall_penalty

#: Most steps (exchanges or single moves) the greedy plan takes; each step is one pass over the candidates.
MAX_STEPS = 5_000


@dataclass(frozen=True)
class _Candidates:
    """Exchanges ``a`` out and ``b`` back (``b = -1``: a single move)."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    cost: NDArray[np.float64]  # arc costs of both moves
    schools: NDArray[np.int64]  # (n, 2) the two schools
    guard_delta: sp.csr_matrix  # (n, n_parts) net change of each guarded part's count


def _candidates(prob: RotationProblem, coef: sp.csr_matrix | None) -> _Candidates:
    """Every exchange of two arcs that swap one teacher of a subject between two schools, and every single arc."""
    src = prob.unit_school[prob.arc_unit]
    dst = prob.arc_dest
    subj = prob.unit_subject[prob.arc_unit]
    n_arcs = len(src)
    # key of an arc out (s, r, j) and of its return (r, s, j)
    key_out = (src * prob.n_schools + dst) * prob.n_subjects + subj
    key_back = (dst * prob.n_schools + src) * prob.n_subjects + subj
    order = np.argsort(key_back, kind="stable")
    lo = np.searchsorted(key_back[order], key_out, side="left")
    hi = np.searchsorted(key_back[order], key_out, side="right")
    counts = hi - lo
    a_pair = np.repeat(np.arange(n_arcs), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    b_pair = order[np.repeat(lo, counts) + offsets]
    # each exchange once: the arc out of the school with the smaller index first
    one_way = src[a_pair] < src[b_pair]
    a = np.concatenate([a_pair[one_way], np.arange(n_arcs)])
    b = np.concatenate([b_pair[one_way], np.full(n_arcs, -1)])
    cost = prob.arc_cost[a].astype(np.float64) + np.where(b >= 0, prob.arc_cost[np.maximum(b, 0)], 0.0)
    n_parts = coef.shape[0] if coef is not None else 0
    if coef is not None:
        cols = coef.T.tocsr()
        delta = cols[a] + cols[np.maximum(b, 0)].multiply((b >= 0)[:, None])
        delta = sp.csr_matrix(delta)
        delta.eliminate_zeros()
    else:
        delta = sp.csr_matrix((len(a), n_parts))
    return _Candidates(a=a, b=b, cost=cost, schools=np.stack([src[a], dst[a]], axis=1), guard_delta=delta)


@dataclass
class _State:
    """The plan so far and what each rule has left."""

    flow: NDArray[np.int64]
    unit_left: NDArray[np.int64]
    out_left: NDArray[np.int64]  # moves each school may still send (large when uncapped)
    staff: NDArray[np.int64]  # (n_schools, n_subjects) change of staffing so far
    count: NDArray[np.int64]  # (n_schools, 2) indicator counts now
    part_delta: NDArray[np.int64]  # net change of each guarded part's count
    guard_value: NDArray[np.float64]  # each guard row's value (≤ 0 keeps the rule)
    movers: NDArray[np.int64]  # per quota group
    backbone: NDArray[np.int64]


def _start(prob: RotationProblem, n_parts: int, n_guards: int) -> _State:
    big = np.iinfo(np.int64).max // 4
    cap = np.full(prob.n_schools, big, dtype=np.int64)
    if prob.move_cap is not None:
        cap = np.where(prob.move_cap >= 0, prob.move_cap, big)
    n_groups = len(prob.quota_movers)
    return _State(
        flow=np.zeros(len(prob.arc_unit), dtype=np.int64),
        unit_left=prob.unit_count.astype(np.int64).copy(),
        out_left=cap.astype(np.int64),
        staff=np.zeros((prob.n_schools, prob.n_subjects), dtype=np.int64),
        count=prob.indicator_count.astype(np.int64).copy(),
        part_delta=np.zeros(n_parts, dtype=np.int64),
        guard_value=np.zeros(n_guards),
        movers=np.zeros(n_groups, dtype=np.int64),
        backbone=np.zeros(n_groups, dtype=np.int64),
    )


@dataclass(frozen=True)
class _Tables:
    """What scores a candidate: the guard's cumulative segment costs, fair shares, penalties."""

    cum: NDArray[np.float64]  # (n_parts, 2·MAX_SEGMENTS + 1), see Segments.cumulative
    part_guard: NDArray[np.int64]
    n_guards: int
    target: NDArray[np.float64]  # (n_schools, 2) fair share in hundredths
    counted: NDArray[np.bool_]  # schools with pupils: their deviations are in the objective
    penalty: float


def _tables(prob: RotationProblem) -> _Tables:
    g = prob.guard
    if g is not None and len(g.part_guard):
        seg = segments(g, prob.unit_count[prob.arc_unit].astype(np.float64))
        cum, part_guard, n_guards = seg.cumulative(len(g.part_guard)), g.part_guard, len(g.names)
    else:
        cum, part_guard, n_guards = np.zeros((0, 2 * MAX_SEGMENTS + 1)), np.zeros(0, dtype=np.int64), 0
    target = np.stack([fair_share(prob, k) for k in range(len(INDICATORS))], axis=1)
    return _Tables(cum=cum, part_guard=part_guard, n_guards=n_guards, target=target, counted=prob.pupils > 0,
                   penalty=shortfall_penalty(prob))


def _guard_change(c: _Candidates, t: _Tables, st: _State) -> NDArray[np.float64]:
    """``(n_candidates, n_guards)`` change of each guard row; ``inf`` beyond a part's segments."""
    out = np.zeros((len(c.a), t.n_guards))
    if t.n_guards == 0 or c.guard_delta.nnz == 0:
        return out
    coo = c.guard_delta.tocoo()
    d0 = st.part_delta[coo.col]
    new = d0 + coo.data.astype(np.int64)
    ok = np.abs(new) <= MAX_SEGMENTS
    change = np.full(len(new), np.inf)
    change[ok] = t.cum[coo.col[ok], new[ok] + MAX_SEGMENTS] - t.cum[coo.col[ok], d0[ok] + MAX_SEGMENTS]
    np.add.at(out, (coo.row, t.part_guard[coo.col]), change)
    return out


def _dev_change(prob: RotationProblem, c: _Candidates, t: _Tables, st: _State) -> NDArray[np.float64]:
    """Change of the deviation part of the objective (exactly as the model counts it)."""
    s, r = c.schools[:, 0], c.schools[:, 1]
    has_b = c.b >= 0
    bb = np.maximum(c.b, 0)
    total = np.zeros(len(c.a))
    for k, flag in enumerate((prob.unit_backbone, prob.unit_qualified)):
        move = flag[prob.arc_unit[c.a]].astype(np.int64) - np.where(has_b, flag[prob.arc_unit[bb]], 0)
        for school, sign in ((s, -1), (r, 1)):
            now = DEV_SCALE * st.count[school, k] - t.target[school, k]
            after = now + sign * DEV_SCALE * move
            total += np.where(t.counted[school], prob.dev_weight[k] * (np.abs(after) - np.abs(now)), 0.0)
    return total


def _shortfall_cost(prob: RotationProblem, t: _Tables, movers: NDArray[np.int64], backbone: NDArray[np.int64],
                    g: NDArray[np.int64]) -> NDArray[np.float64]:
    """Shortfall penalties of quota groups ``g`` at the given counts (0 where ``g < 0``)."""
    q = prob.quota_movers[np.maximum(g, 0)]
    short = np.maximum(q - movers, 0)
    bshort = np.maximum(-((PERCENT * backbone - prob.backbone_percent * movers) // PERCENT), 0)
    # the model bounds a backbone shortfall by the quota: more movers than that without backbone ones is not a plan
    cost = np.where(bshort > q, np.inf, 2 * t.penalty * short + t.penalty * bshort)
    return np.where(g >= 0, cost, 0.0)


def _quota_change(prob: RotationProblem, c: _Candidates, t: _Tables, st: _State) -> NDArray[np.float64]:
    """Change of the shortfall penalties: each move counts for the quota group of the school it leaves."""
    if len(prob.quota_movers) == 0:
        return np.zeros(len(c.a))
    has_b = c.b >= 0
    ga = prob.quota_group[c.schools[:, 0]]
    gb = np.where(has_b, prob.quota_group[c.schools[:, 1]], -1)
    bb_a = prob.unit_backbone[prob.arc_unit[c.a]].astype(np.int64)
    bb_b = np.where(has_b, prob.unit_backbone[prob.arc_unit[np.maximum(c.b, 0)]], 0).astype(np.int64)
    total = np.zeros(len(c.a))
    same = (ga == gb) & (ga >= 0)
    for g, m_add, b_add in ((ga, 1 + same, bb_a + np.where(same, bb_b, 0)), (np.where(same, -1, gb), np.ones_like(gb), bb_b)):
        gi = np.maximum(g, 0)
        before = _shortfall_cost(prob, t, st.movers[gi], st.backbone[gi], g)
        after = _shortfall_cost(prob, t, st.movers[gi] + m_add, st.backbone[gi] + b_add, g)
        total += after - before
    return total


def _feasible(prob: RotationProblem, c: _Candidates, st: _State, guard: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Candidates that keep unit counts, move caps, staffing bounds and every guard row."""
    has_b = c.b >= 0
    bb = np.maximum(c.b, 0)
    s, r = c.schools[:, 0], c.schools[:, 1]
    ok = (st.unit_left[prob.arc_unit[c.a]] >= 1) & (st.out_left[s] >= 1)
    ok &= ~has_b | ((st.unit_left[prob.arc_unit[bb]] >= 1) & (st.out_left[r] >= 1))
    # a single move changes staffing at both ends; an exchange keeps it
    j = prob.unit_subject[prob.arc_unit[c.a]]
    room_out = prob.staff_now[s, j] + st.staff[s, j] - 1 >= prob.staff_lo[s, j]
    room_in = prob.staff_now[r, j] + st.staff[r, j] + 1 <= prob.staff_hi[r, j]
    ok &= has_b | (room_out & room_in)
    if guard.shape[1]:
        ok &= np.all(st.guard_value[None, :] + guard <= 1e-9, axis=1)
    return ok


def _apply(prob: RotationProblem, c: _Candidates, st: _State, i: int, guard_row: NDArray[np.float64]) -> None:
    """Take candidate ``i`` into the plan."""
    for arc in (int(c.a[i]), int(c.b[i])):
        if arc < 0:
            continue
        u = int(prob.arc_unit[arc])
        s, r, j = int(prob.unit_school[u]), int(prob.arc_dest[arc]), int(prob.unit_subject[u])
        st.flow[arc] += 1
        st.unit_left[u] -= 1
        st.out_left[s] -= 1
        st.staff[s, j] -= 1
        st.staff[r, j] += 1
        for k, flag in enumerate((prob.unit_backbone, prob.unit_qualified)):
            st.count[s, k] -= int(flag[u])
            st.count[r, k] += int(flag[u])
        g = int(prob.quota_group[s])
        if g >= 0:
            st.movers[g] += 1
            st.backbone[g] += int(prob.unit_backbone[u])
    row = c.guard_delta.getrow(i)
    st.part_delta[row.indices] += row.data.astype(np.int64)
    st.guard_value += guard_row


def greedy_flow(prob: RotationProblem) -> NDArray[np.int64]:
    """A plan that keeps every hard rule of the model and lowers its objective step by step.

    Parameters
    ----------
    prob
        The problem on arrays.

    Returns
    -------
    numpy.ndarray
        ``(n_arcs,)`` teachers moved along each arc (all zeros when no exchange or move
        lowers the objective).
    """
    t = _tables(prob)
    c = _candidates(prob, prob.guard.coef if prob.guard is not None and t.n_guards else None)
    st = _start(prob, len(t.part_guard), t.n_guards)
    for _ in range(MAX_STEPS):
        if not len(c.a):
            break
        guard = _guard_change(c, t, st)
        gain = c.cost + _dev_change(prob, c, t, st) + _quota_change(prob, c, t, st)
        gain[~_feasible(prob, c, st, guard)] = np.inf
        i = int(np.argmin(gain))
        if not gain[i] < 0:
            break
        _apply(prob, c, st, i, guard[i])
    return st.flow
