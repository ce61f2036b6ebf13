"""The layout instance in arrays (:class:`LayoutProblem`) and the constants the model and its warm start share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

#: Groups of grades per unit and their level (0 primary, 1 junior).
GROUPS: Final = ("grades 1-3", "grades 4-6", "grades 7-9")
GROUP_LEVEL: Final = (0, 0, 1)
LEVELS: Final = ("primary", "junior")
#: Objective unit: costs are rounded to whole hundreds of yuan for CP-SAT.
OBJ_UNIT_YUAN: Final = 100.0
#: Schools each unit's group may choose from: its nearest allowed ones (and today's school when allowed).
#: A farther school costs more travel and bus for the same places, so the optimum rarely needs one;
#: the bound reported is the restricted model's.
NEAREST_SCHOOLS: Final = 8
#: Ranks of school kinds for the merge rules (:attr:`LayoutProblem.tier`): children of a closed school go up, never down.
TIER_POINT: Final = 0
TIER_VILLAGE: Final = 1
TIER_TOWN: Final = 2
TIER_URBAN: Final = 3
#: One-off cost of a new site besides its classes (land, grounds, connection): an assumption.
NEW_SITE_YUAN: Final = 3_000_000.0


@dataclass(frozen=True)
class LayoutProblem:
    """A layout instance: ``n`` units, ``S`` schools and candidate sites.

    Attributes
    ----------
    children
        ``(n, 3)`` children per unit in grades 1–3, 4–6 and 7–9 (whole numbers).
    travel_s
        ``(n, S)`` one-way trip in seconds; ``inf`` where there is no way.
    levels
        ``(S, 2)`` bool: the school teaches primary, junior (both: a nine-year school).
    classes_now
        ``(S, 2)`` classes today (0 for candidate sites).
    existing
        ``(S,)`` bool: a school today (else a candidate site).
    boarding
        ``(S,)`` bool: takes boarders (grades 4–9).
    keep
        ``(S,)`` bool: the bureau keeps the school open.
    teaching_point
        ``(S,)`` bool: a teaching point (grades 1–3, at least one class).
    max_classes
        ``(S, 2)`` most classes the site can hold per level.
    current
        ``(n, 3)`` today's school of each unit and group (−1: none); ``None``: the nearest existing one.
    unit_ids
        Names of the units in messages (``None``: ``unit <index>``).
    tier
        ``(S,)`` kind of school, ranked for the merge rules: :data:`TIER_POINT` (teaching point),
        :data:`TIER_VILLAGE`, :data:`TIER_TOWN` (township seat: central school, town junior or nine-year
        school), :data:`TIER_URBAN` (county seat); candidate sites rank as urban. ``None``: teaching
        points 0, every other school village.
    pupils_now
        ``(S,)`` pupils today; ``None``: today's classes times the class size.
    """

    children: NDArray[np.int64]
    travel_s: NDArray[np.float64]
    levels: NDArray[np.bool_]
    classes_now: NDArray[np.int64]
    existing: NDArray[np.bool_]
    boarding: NDArray[np.bool_]
    keep: NDArray[np.bool_]
    teaching_point: NDArray[np.bool_]
    max_classes: NDArray[np.int64]
    current: NDArray[np.int64] | None = None
    unit_ids: tuple[str, ...] | None = None
    tier: NDArray[np.int64] | None = None
    pupils_now: NDArray[np.int64] | None = None

    def unit(self, i: int) -> str:
        """How messages name unit ``i``."""
        return f"unit {self.unit_ids[i]}" if self.unit_ids is not None else f"unit {i}"


def min_classes(prob: LayoutProblem, minimum: tuple[int, int]) -> NDArray[np.int64]:
    """``(S, 2)`` fewest classes of each school if open: ``minimum`` per level (one per grade of a complete
    school), but no more than an incomplete school has today, and 1 for a teaching point."""
    base = np.broadcast_to(np.asarray(minimum, dtype=np.int64), prob.classes_now.shape)
    today = np.where(prob.existing[:, None] & (prob.classes_now > 0), prob.classes_now, base)
    low = np.minimum(base, today)
    return np.where(prob.teaching_point[:, None], 1, np.minimum(low, prob.max_classes)).astype(np.int64)


def tiers(prob: LayoutProblem) -> NDArray[np.int64]:
    """``(S,)`` rank of each school (:attr:`LayoutProblem.tier`, with its default)."""
    if prob.tier is not None:
        return np.asarray(prob.tier, dtype=np.int64)
    return np.where(prob.teaching_point, TIER_POINT, np.where(prob.existing, TIER_VILLAGE, TIER_URBAN)).astype(np.int64)


def pupils_today(prob: LayoutProblem, class_size: tuple[int, int]) -> NDArray[np.int64]:
    """``(S,)`` pupils of each school today (:attr:`LayoutProblem.pupils_now`, else classes × class size)."""
    if prob.pupils_now is not None:
        return np.asarray(prob.pupils_now, dtype=np.int64)
    return (prob.classes_now * np.asarray(class_size, dtype=np.int64)[None, :]).sum(axis=1).astype(np.int64)
