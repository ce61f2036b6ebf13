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

#: Most rounds the greedy plan takes; each round is one pass over the candidates ...
MAX_ROUNDS = 2_000
#: ... and takes up to this many of the best candidates that share no school (their changes add up exactly).
ROUND = 64


@dataclass(frozen=True)
class _Candidates:
    """Exchanges ``a`` out and ``b`` back (``b = -1``: a single move)."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    cost: NDArray[np.float64]  # arc costs of both moves
    schools: NDArray[np.int64]  # (n, 2) the two schools
    guard_delta: sp.csr_matrix  # (n, n_parts) net change of each guarded part's count

    def take(self, idx: NDArray[np.int64]) -> _Candidates:
        """The candidates at ``idx``."""
        return _Candidates(a=self.a[idx], b=self.b[idx], cost=self.cost[idx], schools=self.schools[idx],
                           guard_delta=self.guard_delta[idx])

    def at_schools(self, n_schools: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(start, order)``: the candidates touching school ``i`` are ``order[start[i]:start[i+1]]``."""
        flat = self.schools.ravel()
        order = np.argsort(flat, kind="stable")
        start = np.searchsorted(flat[order], np.arange(n_schools + 1))
        return start, order // 2


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


@dataclass(frozen=True)
class _Keys:
    """Where each candidate reads the state: its units, schools, quota groups and staffing cells.

    A single move (no arc back) reads sentinels: a unit, a school and a group that always have room.
    """

    unit_a: NDArray[np.int64]
    unit_b: NDArray[np.int64]
    school_b: NDArray[np.int64]  # the school the arc back leaves
    group_a: NDArray[np.int64]
    movers_a: NDArray[np.int64]  # movers the candidate adds to group_a (2 when both moves count for it)
    backbone_a: NDArray[np.int64]
    group_b: NDArray[np.int64]
    backbone_b: NDArray[np.int64]
    single: NDArray[np.bool_]
    staff_out: NDArray[np.int64]  # flat (school, subject) cells a single move leaves and enters
    staff_in: NDArray[np.int64]


def _keys(prob: RotationProblem, c: _Candidates) -> _Keys:
    n_units, n_groups = len(prob.unit_count), len(prob.quota_movers)
    has_b = c.b >= 0
    ua = prob.arc_unit[c.a]
    ub = np.where(has_b, prob.arc_unit[np.maximum(c.b, 0)], n_units)
    s, r = c.schools[:, 0], c.schools[:, 1]
    ga = np.where(prob.quota_group[s] >= 0, prob.quota_group[s], n_groups)
    gb = np.where(has_b & (prob.quota_group[r] >= 0), prob.quota_group[r], n_groups)
    same = (ga == gb) & (ga < n_groups)
    bb_a = prob.unit_backbone[ua].astype(np.int64)
    bb_b = np.where(has_b, prob.unit_backbone[np.minimum(ub, n_units - 1)], 0).astype(np.int64)
    j = prob.unit_subject[ua]
    return _Keys(
        unit_a=ua, unit_b=ub, school_b=np.where(has_b, r, prob.n_schools),
        group_a=ga, movers_a=1 + same.astype(np.int64), backbone_a=bb_a + np.where(same, bb_b, 0),
        group_b=np.where(same, n_groups, gb), backbone_b=np.where(same, 0, bb_b),
        single=~has_b, staff_out=s * prob.n_subjects + j, staff_in=r * prob.n_subjects + j,
    )


def _take_keys(q: _Keys, idx: NDArray[np.int64]) -> _Keys:
    """The keys of the candidates at ``idx``."""
    return _Keys(**{f: getattr(q, f)[idx] for f in q.__dataclass_fields__})


@dataclass
class _State:
    """The plan so far and what each rule has left (each array with a last sentinel entry that never runs out)."""

    flow: NDArray[np.int64]
    unit_left: NDArray[np.int64]
    out_left: NDArray[np.int64]  # moves each school may still send (large when uncapped)
    staff_room_out: NDArray[np.int64]  # flat (school, subject): teachers it may still lose ...
    staff_room_in: NDArray[np.int64]  # ... and gain
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
        unit_left=np.append(prob.unit_count.astype(np.int64), big),
        out_left=np.append(cap.astype(np.int64), big),
        staff_room_out=(prob.staff_now - prob.staff_lo).ravel().astype(np.int64),
        staff_room_in=(prob.staff_hi - prob.staff_now).ravel().astype(np.int64),
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
    n = len(c.a)
    if t.n_guards == 0 or c.guard_delta.nnz == 0:
        return np.zeros((n, t.n_guards))
    coo = c.guard_delta.tocoo()
    d0 = st.part_delta[coo.col]
    new = d0 + coo.data.astype(np.int64)
    ok = np.abs(new) <= MAX_SEGMENTS
    change = np.full(len(new), np.inf)
    change[ok] = t.cum[coo.col[ok], new[ok] + MAX_SEGMENTS] - t.cum[coo.col[ok], d0[ok] + MAX_SEGMENTS]
    cell = coo.row * t.n_guards + t.part_guard[coo.col]
    total: NDArray[np.float64] = np.bincount(cell, weights=change, minlength=n * t.n_guards).astype(np.float64)
    return total.reshape(n, t.n_guards)


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


def _shortfall_cost(prob: RotationProblem, t: _Tables, movers: NDArray[np.int64], backbone: NDArray[np.int64]) -> NDArray[np.float64]:
    """Shortfall penalties of every quota group at the given counts (broadcast over extra axes)."""
    q = prob.quota_movers.reshape((-1,) + (1,) * (movers.ndim - 1))
    short = np.maximum(q - movers, 0)
    bshort = np.maximum(-((PERCENT * backbone - prob.backbone_percent * movers) // PERCENT), 0)
    # the model bounds a backbone shortfall by the quota: more movers than that without backbone ones is not a plan
    return np.where(bshort > q, np.inf, 2 * t.penalty * short + t.penalty * bshort)


def _quota_change(prob: RotationProblem, q: _Keys, t: _Tables, st: _State) -> NDArray[np.float64]:
    """Change of the shortfall penalties: each move counts for the quota group of the school it leaves.

    A table per group of the change for 0–2 more movers of whom 0–2 backbone, looked up per candidate.
    """
    n_groups = len(prob.quota_movers)
    table = np.zeros((n_groups + 1, 3, 3))  # the last group: none
    if n_groups:
        m_add = np.arange(3)[None, :, None]
        b_add = np.arange(3)[None, None, :]
        movers, backbone = st.movers[:, None, None], st.backbone[:, None, None]
        table[:n_groups] = _shortfall_cost(prob, t, movers + m_add, backbone + b_add) - _shortfall_cost(prob, t, movers, backbone)
    return table[q.group_a, q.movers_a, q.backbone_a] + table[q.group_b, 1, q.backbone_b]


def _room(q: _Keys, st: _State, school_a: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Candidates whose units, schools and staffing cells have room (only their own two schools' state)."""
    ok = (st.unit_left[q.unit_a] >= 1) & (st.unit_left[q.unit_b] >= 1)
    ok &= (st.out_left[school_a] >= 1) & (st.out_left[q.school_b] >= 1)
    # a single move changes staffing at both ends (an exchange keeps it): room below and above
    single = q.single
    ok[single] &= (st.staff_room_out[q.staff_out[single]] >= 1) & (st.staff_room_in[q.staff_in[single]] >= 1)
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
        for cell, sign in ((s * prob.n_subjects + j, 1), (r * prob.n_subjects + j, -1)):
            st.staff_room_out[cell] -= sign
            st.staff_room_in[cell] += sign
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


def _take_round(prob: RotationProblem, c: _Candidates, keys: _Keys, t: _Tables, st: _State, *, guard: NDArray[np.float64],
                dev: NDArray[np.float64], ranked: NDArray[np.int64]) -> list[int]:
    """Take the best candidate and then, in order, each next one that shares no school with those taken
    and still lowers the objective and keeps every guard row (its changes are then those computed
    before the round: they depend only on its own two schools, except the quota penalty, recomputed)."""
    took: list[int] = []
    used: set[int] = set()
    for i in ranked.tolist():
        s, r = int(c.schools[i, 0]), int(c.schools[i, 1])
        if s in used or r in used:
            continue
        if took:
            quota = float(_quota_change(prob, _take_keys(keys, np.array([i])), t, st)[0])
            if not (c.cost[i] + dev[i] + quota < 0 and (guard[i] <= -st.guard_value + 1e-9).all()):
                continue
        _apply(prob, c, st, i, guard[i])
        took.append(i)
        used.update((s, r))
    return took


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
    if not len(c.a):
        return st.flow
    # a step changes only its two schools: the guard and deviation changes of the candidates touching them
    start, order = c.at_schools(prob.n_schools)
    keys = _keys(prob, c)
    guard = _guard_change(c, t, st)
    dev = _dev_change(prob, c, t, st)
    room = _room(keys, st, c.schools[:, 0])
    for _ in range(MAX_ROUNDS):
        gain = c.cost + dev + _quota_change(prob, keys, t, st)
        ok = room & (guard <= -st.guard_value[None, :] + 1e-9).all(axis=1) if t.n_guards else room
        best = np.flatnonzero(ok & (gain < 0))
        if not len(best):
            break
        took = _take_round(prob, c, keys, t, st, guard=guard, dev=dev, ranked=best[np.argsort(gain[best], kind="stable")][:ROUND])
        touched = np.unique(c.schools[took])
        idx = np.unique(np.concatenate([order[start[x]:start[x + 1]] for x in touched]))
        sub = c.take(idx)
        guard[idx] = _guard_change(sub, t, st)
        dev[idx] = _dev_change(prob, sub, t, st)
        room[idx] = _room(_take_keys(keys, idx), st, c.schools[idx, 0])
    return st.flow
