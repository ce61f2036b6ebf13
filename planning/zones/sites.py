"""Schools on one site: co-located schools of a level are zoned as one site, then the site's zone is split.

Schools that share their own block and reach every block in the same time
(several schools on one campus, or schools geocoded to one point) are
interchangeable for travel: any plan can swap their blocks at no cost. The
relaxation then splits their pupils among them at random, whole zones fall
apart into pieces that all have to touch the one shared block, and the
contiguity pass searches the many equal plans at length (seconds to a minute
on a county instead of a fraction of a second). So the zoning solve sees one
*site* per group of such *twins*: their seats added, one root block, the travel
of one of them (:func:`merge`). The site's zone is then split among its schools
(:func:`split`): blocks are handed out outwards from the site's block, each to
a school holding a neighbour of it (or to any school when it borders the site's
block), so every part touches the site and is one piece; a block goes to its
current school where that school has room, else to the school holding most of
its neighbours that has room. The travel of the plan is the site plan's, and
so is the bound (a site plan is never dearer than the school plan it stands
for: moves within a site are free there), so the bound is valid for the schools.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geo.travel import TravelMatrix
from planning.zones.instance import BlockGraph, Instance, Reach, students_at
from planning.zones.rounding import ejection_repair, local_pairs, local_search


@dataclass(frozen=True)
class Sites:
    """Schools grouped into sites.

    Attributes
    ----------
    site
        Site of each school.
    members
        Schools of each site, ascending; the first stands for the site.
    """

    site: NDArray[np.int64]
    members: tuple[NDArray[np.int64], ...]

    @property
    def leaders(self) -> NDArray[np.int64]:
        """The school standing for each site (its first)."""
        return np.array([int(k[0]) for k in self.members], np.int64)


def _column_keys(travel: TravelMatrix, schools: NDArray[np.int64]) -> dict[int, bytes]:
    """A key per school equal for schools reaching the same blocks in the same time and distance."""
    order = np.lexsort((travel.origin, travel.dest))
    dest = travel.dest[order]
    start = np.searchsorted(dest, np.arange(len(travel.dest_ids) + 1))
    keys = {}
    for j in schools.tolist():
        sl = order[start[j] : start[j + 1]]
        keys[j] = np.r_[travel.origin[sl], travel.time_s[sl], travel.dist_m[sl]].astype(np.int64).tobytes()
    return keys


def find_sites(travel: TravelMatrix, reach: Reach, graph: BlockGraph) -> Sites | None:
    """Groups of twin schools: one root block, the same travel to every block, boarding and township.

    Returns
    -------
    Sites or None
        ``None`` when no two schools are twins.
    """
    roots = np.asarray(graph.roots, np.int64)
    m = len(roots)
    counts = np.bincount(roots[roots >= 0], minlength=1)
    shared = np.flatnonzero((roots >= 0) & (counts[np.maximum(roots, 0)] > 1))
    if not len(shared):
        return None
    columns = _column_keys(travel, shared)
    boards = np.zeros(m, bool) if reach.school_boards is None else np.asarray(reach.school_boards, bool)
    township = np.full(m, "", object) if reach.school_township is None else np.asarray(reach.school_township, object)
    site = np.arange(m, dtype=np.int64)
    first: dict[tuple[int, bool, str, bytes], int] = {}
    for j in shared.tolist():
        key = (int(roots[j]), bool(boards[j]), str(township[j]), columns[j])
        site[j] = first.setdefault(key, j)
    if (site == np.arange(m)).all():
        return None
    _, site = np.unique(site, return_inverse=True)
    members = tuple(np.flatnonzero(site == s) for s in range(int(site.max()) + 1))
    return Sites(site=site.astype(np.int64), members=members)


@dataclass(frozen=True)
class SiteInstance:
    """The zoning inputs with one school per site."""

    travel: TravelMatrix
    capacity: NDArray[np.int64]
    current: NDArray[np.int64] | None
    reach: Reach
    graph: BlockGraph


def merge(
    sites: Sites,
    travel: TravelMatrix,
    capacity: NDArray[np.int64],
    current: NDArray[np.integer] | None,
    reach: Reach,
    graph: BlockGraph,
) -> SiteInstance:
    """The inputs with each site as one school: its leader's travel and root, its members' seats added.

    A block's current school becomes its site (a closed or other school, one
    past the last, stays one past the last site).
    """
    lead = sites.leaders
    merged = travel.reindex(travel.origin_ids, np.asarray(travel.dest_ids)[lead])
    seats = np.bincount(sites.site, weights=np.asarray(capacity, np.int64), minlength=len(lead)).astype(np.int64)
    cur = None
    if current is not None:
        to_site = np.r_[sites.site, len(lead)]
        c = np.asarray(current, np.int64)
        cur = np.where(c >= 0, to_site[np.maximum(c, 0)], c)
    site_reach = dataclasses.replace(
        reach,
        school_boards=None if reach.school_boards is None else np.asarray(reach.school_boards, bool)[lead],
        school_township=None if reach.school_township is None else np.asarray(reach.school_township, object)[lead],
    )
    return SiteInstance(merged, seats, cur, site_reach, BlockGraph(graph.adjacency, np.asarray(graph.roots)[lead]))


def split(p: Instance, site_school: NDArray[np.int64], sites: Sites, graph: BlockGraph) -> NDArray[np.int64]:
    """School of each block from its site: each site's zone split among its schools (see the module docstring).

    Parameters
    ----------
    p
        The instance of the schools (not of the sites).
    site_school
        Site of each block (−1: none).
    sites
        The sites.
    graph
        Block adjacency and each school's root block.

    Returns
    -------
    numpy.ndarray
        School of each block (−1: none); over-full schools where the seats of a
        site do not split in whole blocks.
    """
    lead = sites.leaders
    school = np.where(site_school >= 0, lead[np.maximum(site_school, 0)], -1)
    pinned = np.zeros(len(school), bool)
    for s, members in enumerate(sites.members):
        if len(members) > 1:
            pinned[_split_site(p, school, np.flatnonzero(site_school == s), members, graph)] = True
    # Moves between the schools of a site only, each school's first block (the site's
    # block, or one bordering it) kept: a region hemmed in by the others passes whole
    # blocks along chains that keep the parts whole (travel is the same: no seat
    # price); then shifts and swaps bring pupils back to today's school where they can.
    pairs = local_pairs(p, (site_school[p.origin] >= 0) & (sites.site[p.dest] == site_school[p.origin]))
    if (students_at(p, school) > p.capacity).any():
        school, _ = ejection_repair(
            pairs, school, p.capacity, np.zeros(len(p.capacity)), adjacency=graph.adjacency, pinned=pinned
        )
    seats = np.maximum(p.capacity, students_at(p, school))
    school, _, _ = local_search(pairs, school, seats, movable=~pinned, adjacency=graph.adjacency)
    return school


def _hops(ptr: NDArray[np.int32], idx: NDArray[np.int32], root: int, zone: set[int]) -> dict[int, int]:
    """Hops from ``root`` to each block of the zone it reaches through zone blocks."""
    hops, queue = {root: 0}, deque([root])
    while queue:
        b = queue.popleft()
        for v in idx[ptr[b] : ptr[b + 1]].tolist():
            if v in zone and v not in hops:
                hops[v] = hops[b] + 1
                queue.append(v)
    return hops


@dataclass
class _Growth:
    """One site's split in progress: each school's region grows from the site's block."""

    p: Instance
    ptr: NDArray[np.int32]
    idx: NDArray[np.int32]
    school: NDArray[np.int64]
    room: dict[int, int]
    frontier: dict[int, set[int]]
    hops: dict[int, int]

    def take(self, k: int, b: int) -> None:
        """Block ``b`` joins school ``k``: its unassigned neighbours join ``k``'s frontier."""
        self.school[b] = k
        self.room[k] -= int(self.p.demand[b])
        for f in self.frontier.values():
            f.discard(b)
        self.frontier[k].update(v for v in self.idx[self.ptr[b] : self.ptr[b + 1]].tolist() if v in self.hops and self.school[v] < 0)

    def best(self, k: int) -> int | None:
        """The frontier block school ``k`` takes next: one that fits, its own pupils first, then most neighbours in it, nearest."""
        p = self.p
        fit = [b for b in self.frontier[k] if p.demand[b] <= self.room[k]]
        if not fit:
            return None

        def rank(b: int) -> tuple[bool, int, int, int]:
            near = self.school[self.idx[self.ptr[b] : self.ptr[b + 1]]]
            return (int(p.current[b]) != k, -int((near == k).sum()), self.hops[b], b)

        return min(fit, key=rank)


def _split_site(
    p: Instance, school: NDArray[np.int64], blocks: NDArray[np.int64], members: NDArray[np.int64], graph: BlockGraph
) -> list[int]:
    """Grow each school's region from the site's block in turns, the emptiest school first (``school`` in place).

    Returns the first block of each school's region: the site's block or one bordering it.
    """
    ptr, idx = graph.adjacency.indptr, graph.adjacency.indices
    root = int(graph.roots[members[0]])
    zone = set(blocks.tolist())
    school[blocks] = -1
    hops = _hops(ptr, idx, root, zone | {root})
    ring = {v for v in idx[ptr[root] : ptr[root + 1]].tolist() if v in zone}
    g = _Growth(p, ptr, idx, school, {int(k): int(p.capacity[k]) for k in members}, {int(k): set(ring) for k in members}, hops)
    first = []
    if root in zone:
        cur = int(p.current[root])
        g.take(cur if cur in g.room else max(sorted(g.room), key=lambda j: g.room[j]), root)
        first.append(root)
    while True:
        order = sorted(g.room, key=lambda j: (-g.room[j] / max(int(p.capacity[j]), 1), j))
        step = next(((k, b) for k in order if (b := g.best(k)) is not None), None)
        if step is None:
            break
        if not (school[blocks] == step[0]).any():
            first.append(step[1])
        g.take(*step)
    # blocks no region could take with room: to a bordering school (over its seats), or any
    left = sorted((b for b in zone if school[b] < 0), key=lambda b: (hops.get(b, len(hops)), b))
    for b in left:
        near = [int(k) for k in school[idx[ptr[b] : ptr[b + 1]]].tolist() if k in g.room]
        cand = sorted(set(near)) or sorted(g.room)
        g.take(max(cand, key=lambda j: (g.room[j], -j)), b)
    return first
