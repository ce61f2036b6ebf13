"""Is each new school worth building? A plan's new sites checked one at a time against the same plan without them.

A short time limit can leave CP-SAT (or its polish) with a candidate site opened for a few children whose school
next door has room. Here each opened site, fewest children first, is closed in turn: its children go to their
cheapest allowed open school that has room (whole classes up to ``max_classes``, the school-size limit; a class
added where needed, at its cost), the others stay where they are, and the plan's groups are moved into seats already
paid for (:func:`~planning.layout.greedy.settle`). The site goes when the total over the horizon falls. A site that
stays gets its reason: for how many children it is built, and how much more the plan would cost without it (or that
the schools within the limits have no room for them). The model's own figures decide; nothing is assumed.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from planning.layout.greedy import WarmStart, allowed_schools, class_sizes, school_caps, settle
from planning.layout.options import LayoutOptions
from planning.layout.problem import GROUP_LEVEL

#: Reasons given to a new school (``{n}`` children, ``{more}`` yuan, ``{years}`` years); the report translates them,
#: as it does :data:`WHY_EXPAND`.
WHY_NEW_CHEAPER = "new school for {n} children: without it the plan costs {more} yuan more over {years} years"
WHY_NEW_NEEDED = "new school for {n} children: the schools within the limits have no room for them"
#: Reason of an expanded school (``{k}`` classes more, ``{n}`` pupils planned, ``{now}`` today).
WHY_EXPAND = "expanded by {k} classes for {n} pupils planned ({now} today)"


def _move_out(w: WarmStart, open_mask: NDArray[np.bool_], at: NDArray[np.int64], site: int, options: LayoutOptions
              ) -> NDArray[np.int64] | None:
    """``at`` with the groups at ``site`` sent, largest first, to their cheapest allowed school of ``open_mask`` with
    room (a new class charged where one is needed); ``None`` when one of them has none."""
    prob, kids = w.prob, w.prob.children
    size = class_sizes(options)
    per_class = np.array([options.class_yuan_year_primary, options.class_yuan_year_junior]) * options.horizon_years
    cap = school_caps(prob, options)
    allowed = allowed_schools(w, open_mask)
    out = at.copy()
    pick = (kids > 0) & (at == site)
    load = np.zeros((len(open_mask), 2))
    for g, lvl in enumerate(GROUP_LEVEL):
        keep = (kids[:, g] > 0) & ~pick[:, g]
        np.add.at(load[:, lvl], at[keep, g], kids[keep, g])
    groups = np.argwhere(pick)
    for i, g in groups[np.argsort(-kids[pick], kind="stable")]:
        lvl, k = GROUP_LEVEL[g], float(kids[i, g])
        fits = allowed[i, g] & (np.ceil((load[:, lvl] + k) / size[lvl]) <= prob.max_classes[:, lvl]) & (load.sum(axis=1) + k <= cap)
        if not fits.any():
            return None
        grow = np.ceil((load[:, lvl] + k) / size[lvl]) - np.ceil(load[:, lvl] / size[lvl])
        built = np.maximum(np.ceil((load[:, lvl] + k) / size[lvl]) - np.maximum(prob.classes_now[:, lvl], np.ceil(load[:, lvl] / size[lvl])), 0)
        price = w.pair_total[i, g] + grow * per_class[lvl] + built * options.construction_yuan_per_class
        b = int(np.argmin(np.where(fits, price, np.inf)))
        out[i, g] = b
        load[b, lvl] += k
    return out


def check_sites(w: WarmStart, open_mask: NDArray[np.bool_], at: NDArray[np.int64], options: LayoutOptions
                ) -> tuple[float, NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64], dict[int, str]]:
    """The plan ``open_mask``/``at`` (feasible) with every new site that does not pay for itself closed (module
    docstring): total, open schools, each group's school (0 where a group has no children), classes, and the reason of
    each site kept."""
    prob, kids = w.prob, w.prob.children
    total, at, classes = settle(w, open_mask, options, at=at)
    open_mask = open_mask.copy()
    served = np.bincount(np.where(kids > 0, at, 0).ravel(), weights=kids.ravel(), minlength=len(open_mask))
    for s in np.flatnonzero(open_mask & ~prob.existing)[np.argsort(served[open_mask & ~prob.existing], kind="stable")]:
        without = open_mask.copy()
        without[s] = False
        moved = _move_out(w, without, at, int(s), options)
        if moved is None:
            continue
        val, got, cls = settle(w, without, options, at=moved)
        if val < total - 1.0:
            total, open_mask, at, classes = val, without, got, cls
    why: dict[int, str] = {}
    for s in np.flatnonzero(open_mask & ~prob.existing):
        n = int(kids[at == s].sum())
        without = open_mask.copy()
        without[s] = False
        moved = _move_out(w, without, at, int(s), options)
        val = settle(w, without, options, at=moved)[0] if moved is not None else math.inf
        why[int(s)] = (WHY_NEW_CHEAPER.format(n=n, more=round(val - total), years=options.horizon_years) if math.isfinite(val)
                       else WHY_NEW_NEEDED.format(n=n))
    return total, open_mask, at, classes, why
