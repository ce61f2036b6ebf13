"""Warm start of the layout model: drop schools one at a time while the total cost falls.

From today's layout (every existing school open), each group of a unit goes to its cheapest
allowed open school (a school the merge rule does not allow only while the group's school of today
stays open) and each school gets the classes its pupils need (at least the minimum of
an open school); a school is then closed when every group it serves has another allowed school,
no school overflows, and the total — the objective of :mod:`planning.layout.model` — falls.
Schools are tried smallest first; rounds repeat until none can go. Deterministic.
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


def evaluate(w: WarmStart, open_mask: NDArray[np.bool_], options: LayoutOptions) -> tuple[float, NDArray[np.int64], NDArray[np.int64]]:
    """Total cost over the horizon of ``open_mask``, each group's school and the classes; ``inf`` if it fails."""
    prob, kids = w.prob, w.prob.children
    stays = open_mask[np.maximum(w.now, 0)] | (w.now < 0)
    c = np.where(w.ok & open_mask[None, None, :] & (w.up | stays[:, :, None]), w.pair_total, np.inf)
    at = np.argmin(c, axis=2)
    best = np.take_along_axis(c, at[:, :, None], 2)[:, :, 0]
    if not np.all(np.isfinite(best) | (kids == 0)):
        return math.inf, at, np.zeros((len(open_mask), 2), dtype=np.int64)
    load = np.zeros((len(open_mask), 2))
    for g, lvl in enumerate(GROUP_LEVEL):
        load[:, lvl] += np.bincount(at[:, g], weights=np.where(kids[:, g] > 0, kids[:, g], 0), minlength=len(open_mask))
    size = np.array([options.class_size_primary, options.class_size_junior])
    need = np.maximum(np.ceil(load / size), min_classes(prob, (options.min_classes_primary, options.min_classes_junior)))
    classes = np.where(open_mask[:, None] & prob.levels, need, 0).astype(np.int64)
    cap = np.where(prob.levels.all(axis=1), options.max_pupils_nine_year, options.max_pupils_school)
    if np.any(classes > prob.max_classes) or np.any(load.sum(axis=1) > cap):
        return math.inf, at, classes
    h = options.horizon_years
    fixed = h * options.school_yuan_year * open_mask.sum() + NEW_SITE_YUAN * (open_mask & ~prob.existing).sum()
    teach = h * (classes[:, 0].sum() * options.class_yuan_year_primary + classes[:, 1].sum() * options.class_yuan_year_junior)
    built = options.construction_yuan_per_class * np.maximum(classes - prob.classes_now, 0).sum()
    return float(fixed + teach + built + np.where(kids > 0, best, 0.0).sum()), at, classes


def drop(w: WarmStart, forced: NDArray[np.bool_], options: LayoutOptions, most: int) -> NDArray[np.bool_]:
    """The open set after closing schools (never ``forced`` ones, at most ``most``) while the total falls, from today's schools."""
    open_mask = w.prob.existing.copy()
    total, at, _ = evaluate(w, open_mask, options)
    if not math.isfinite(total):
        return open_mask
    for _ in range(MAX_ROUNDS):
        served = np.bincount(at.ravel(), weights=w.prob.children.ravel(), minlength=len(open_mask))
        improved = False
        for s in np.argsort(served, kind="stable"):
            if not open_mask[s] or forced[s] or (w.prob.existing & ~open_mask).sum() >= most:
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
