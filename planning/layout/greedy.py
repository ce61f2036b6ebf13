"""Warm start of the layout model: drop schools one at a time while the total cost falls.

From every school and candidate site open, each group of a unit goes to its cheapest
allowed open school (a school the merge rule does not allow only while the group's school of today
stays open) and each school gets the classes its pupils need (at least the minimum of
an open school); a school is then closed when every group it serves has another allowed school,
no school overflows, and the total — the objective of :mod:`planning.layout.model` — falls.
Schools and sites are tried smallest first (a site costs its building, so it goes unless the
children need it); rounds repeat until none can go. Deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planning.layout.options import LayoutOptions
from planning.layout.problem import GROUP_LEVEL, NEW_SITE_YUAN, LayoutProblem, min_classes

#: Rounds of closing at most; each round tries every open school once.
MAX_ROUNDS = 50


@dataclass(frozen=True)
class WarmStart:
    """What the warm start works on: the allowed pairs and each pair's cost over the horizon."""

    prob: LayoutProblem
    ok: NDArray[np.bool_]  # (n, 3, S)
    pair_total: NDArray[np.float64]  # (n, 3, S) yuan over the horizon
    up: NDArray[np.bool_]  # (n, 3, S) allowed even when today's school closes (merge rule)
    now: NDArray[np.int64]  # (n, 3) today's school (−1: none)


def _loads(prob: LayoutProblem, at: NDArray[np.int64], n_s: int) -> NDArray[np.float64]:
    """``(S, 2)`` pupils per school and level of the assignment ``at``."""
    kids = prob.children
    load = np.zeros((n_s, 2))
    for g, lvl in enumerate(GROUP_LEVEL):
        load[:, lvl] += np.bincount(at[:, g], weights=np.where(kids[:, g] > 0, kids[:, g], 0), minlength=n_s)
    return load


def class_sizes(options: LayoutOptions) -> NDArray[np.int64]:
    """Pupils per class by level (primary, junior)."""
    return np.array([options.class_size_primary, options.class_size_junior])


def school_caps(prob: LayoutProblem, options: LayoutOptions) -> NDArray[np.float64]:
    """``(S,)`` most pupils each school may have: the nine-year limit for schools of both levels, else the school's."""
    return np.where(prob.levels.all(axis=1), options.max_pupils_nine_year, options.max_pupils_school).astype(float)


def _fill(prob: LayoutProblem, c: NDArray[np.float64], options: LayoutOptions) -> NDArray[np.int64]:
    """Each group's school when the cheapest overflow some: the groups with the fewest allowed schools first (a group
    with one school must not find it filled by groups that had others), the largest first among them, each to its
    cheapest school with room (whole classes up to ``max_classes``, the school-size limit)."""
    size = class_sizes(options)
    room = (prob.max_classes * size[None, :]).astype(float)
    total = school_caps(prob, options)
    at = np.argmin(c, axis=2)
    kids = prob.children
    choices = np.isfinite(c).sum(axis=2).ravel()
    for flat in np.lexsort((-kids.ravel(), choices)):
        i, g = divmod(int(flat), 3)
        k = float(kids[i, g])
        if k <= 0:
            continue
        lvl = GROUP_LEVEL[g]
        fits = np.isfinite(c[i, g]) & (room[:, lvl] >= k) & (total >= k)
        if fits.any():
            s = int(np.argmin(np.where(fits, c[i, g], np.inf)))
            room[s, lvl] -= k
            total[s] -= k
            at[i, g] = s
    return at.astype(np.int64)


def evaluate(w: WarmStart, open_mask: NDArray[np.bool_], options: LayoutOptions) -> tuple[float, NDArray[np.int64], NDArray[np.int64]]:
    """Total cost over the horizon of ``open_mask``, each group's school and the classes; ``inf`` if it fails."""
    prob, kids = w.prob, w.prob.children
    c = np.where(allowed_schools(w, open_mask), w.pair_total, np.inf)
    at = np.argmin(c, axis=2)
    size = class_sizes(options)
    cap = school_caps(prob, options)
    load = _loads(prob, at, len(open_mask))
    if np.any(np.ceil(load / size) > prob.max_classes) or np.any(load.sum(axis=1) > cap):
        at = _fill(prob, c, options)
        load = _loads(prob, at, len(open_mask))
    best = np.take_along_axis(c, at[:, :, None], 2)[:, :, 0]
    if not np.all(np.isfinite(best) | (kids == 0)):
        return math.inf, at, np.zeros((len(open_mask), 2), dtype=np.int64)
    classes = _classes(prob, open_mask, load, options)
    if np.any(classes > prob.max_classes) or np.any(load.sum(axis=1) > cap):
        return math.inf, at, classes
    return _total(w, open_mask, at, classes, options), at, classes


def _classes(prob: LayoutProblem, open_mask: NDArray[np.bool_], load: NDArray[np.float64], options: LayoutOptions) -> NDArray[np.int64]:
    """``(S, 2)`` classes each open school needs for ``load`` pupils: whole classes, at least its minimum."""
    size = class_sizes(options)
    need = np.maximum(np.ceil(load / size), min_classes(prob, (options.min_classes_primary, options.min_classes_junior)))
    return np.where(open_mask[:, None] & prob.levels, need, 0).astype(np.int64)


def _total(w: WarmStart, open_mask: NDArray[np.bool_], at: NDArray[np.int64], classes: NDArray[np.int64], options: LayoutOptions) -> float:
    """Total cost over the horizon of a feasible plan (the objective of :mod:`planning.layout.model`)."""
    prob, kids = w.prob, w.prob.children
    best = np.take_along_axis(w.pair_total, at[:, :, None], 2)[:, :, 0]
    h = options.horizon_years
    fixed = h * options.school_yuan_year * open_mask.sum() + NEW_SITE_YUAN * (open_mask & ~prob.existing).sum()
    teach = h * (classes[:, 0].sum() * options.class_yuan_year_primary + classes[:, 1].sum() * options.class_yuan_year_junior)
    built = options.construction_yuan_per_class * np.maximum(classes - prob.classes_now, 0).sum()
    return float(fixed + teach + built + np.where(kids > 0, best, 0.0).sum())


def allowed_schools(w: WarmStart, open_mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``(n, 3, S)`` the group may go to the open school (the merge rule: elsewhere only while today's school stays open)."""
    stays = open_mask[np.maximum(w.now, 0)] | (w.now < 0)
    return w.ok & open_mask[None, None, :] & (w.up | stays[:, :, None])


def fill_seats(w: WarmStart, open_mask: NDArray[np.bool_], at: NDArray[np.int64], options: LayoutOptions) -> NDArray[np.int64]:
    """``at`` after moving groups into seats already paid for: a school kept at its minimum classes (or with a class
    not full) takes a group when that frees a whole class where the group was (its teachers, and its building where it
    was a class to build), or costs less, with the school-size limit kept. Each move lowers the total
    (:func:`evaluate`); passes repeat until none does. Deterministic.

    The cheapest-school assignment leaves small schools paying for empty minimum classes while the school next door
    opens one more; CP-SAT fills them, and so, in part, does this (a short time limit gives CP-SAT only this plan).
    """
    prob, kids = w.prob, w.prob.children
    at = at.copy()
    allowed = allowed_schools(w, open_mask)
    size = class_sizes(options)
    year = np.array([options.class_yuan_year_primary, options.class_yuan_year_junior]) * options.horizon_years
    cap = school_caps(prob, options)
    low = min_classes(prob, (options.min_classes_primary, options.min_classes_junior))
    now = prob.classes_now
    load = _loads(prob, at, len(open_mask))
    for _ in range(MAX_ROUNDS):
        moved = False
        for i, g in zip(*np.nonzero(kids > 0)):
            a, lvl, k = int(at[i, g]), GROUP_LEVEL[g], float(kids[i, g])
            cls = np.maximum(np.ceil(load[:, lvl] / size[lvl]), low[:, lvl])
            free = cls * size[lvl] - load[:, lvl]
            fits = allowed[i, g] & (free >= k) & (load.sum(axis=1) + k <= cap)
            fits[a] = False
            if not fits.any():
                continue
            after = max(math.ceil((load[a, lvl] - k) / size[lvl]), low[a, lvl])
            unbuilt = max(cls[a] - now[a, lvl], 0) - max(after - now[a, lvl], 0)  # classes no longer to be built at a
            saved = (cls[a] - after) * year[lvl] + unbuilt * options.construction_yuan_per_class
            delta = np.where(fits, w.pair_total[i, g] - w.pair_total[i, g, a], np.inf) - saved
            b = int(np.argmin(delta))
            if delta[b] < -1.0:
                at[i, g] = b
                load[a, lvl] -= k
                load[b, lvl] += k
                moved = True
        if not moved:
            break
    return at


def settle(w: WarmStart, open_mask: NDArray[np.bool_], options: LayoutOptions, *, at: NDArray[np.int64] | None = None
           ) -> tuple[float, NDArray[np.int64], NDArray[np.int64]]:
    """:func:`fill_seats` from ``at`` (a feasible assignment to ``open_mask``; default :func:`evaluate`'s): total,
    each group's school and the classes it needs (``inf`` if :func:`evaluate` fails)."""
    if at is None:
        total, at, classes = evaluate(w, open_mask, options)
        if not math.isfinite(total):
            return total, at, classes
    at = fill_seats(w, open_mask, np.where(w.prob.children > 0, at, 0).astype(np.int64), options)
    classes = _classes(w.prob, open_mask, _loads(w.prob, at, len(open_mask)), options)
    return _total(w, open_mask, at, classes, options), at, classes


def drop(w: WarmStart, forced: NDArray[np.bool_], options: LayoutOptions, most: int, *, start: NDArray[np.bool_] | None = None) -> NDArray[np.bool_]:
    """The open set after closing schools (never ``forced`` ones, at most ``most`` of today's) and dropping candidate
    sites while the total falls, from ``start`` (default every school and site open)."""
    open_mask = np.ones(len(w.prob.existing), dtype=bool) if start is None else start.copy()
    total, at, _ = evaluate(w, open_mask, options)
    if not math.isfinite(total):
        return open_mask
    for _ in range(MAX_ROUNDS):
        served = np.bincount(at.ravel(), weights=w.prob.children.ravel(), minlength=len(open_mask))
        improved = False
        for s in np.argsort(served, kind="stable"):
            if not open_mask[s] or forced[s] or (w.prob.existing[s] and (w.prob.existing & ~open_mask).sum() >= most):
                continue
            open_mask[s] = False
            val, got, _ = evaluate(w, open_mask, options)
            if val < total - 1e-6:
                total, at, improved = val, got, True
            else:
                open_mask[s] = True
        if not improved:
            break
    return open_mask
