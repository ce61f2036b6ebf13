"""Detached pieces (planning.zones.pieces) against a breadth-first search written out block by block."""

from __future__ import annotations

from collections import deque

import numpy as np
import scipy.sparse as sp

from planning.zones.pieces import connector_components, detached_pieces


def _walk(adj: sp.csr_array, ok: np.ndarray, start: list[int]) -> set[int]:
    """Blocks reached from ``start`` through blocks where ``ok``."""
    seen, queue = set(start), deque(start)
    while queue:
        u = queue.popleft()
        for v in adj.indices[adj.indptr[u] : adj.indptr[u + 1]].tolist():
            if ok[v] and v not in seen:
                seen.add(v)
                queue.append(v)
    return seen


def _reference(school: np.ndarray, adj: sp.csr_array, roots: np.ndarray, connector: np.ndarray) -> list[tuple[int, list[int]]]:
    """Zone by zone: blocks not reached from the root through the zone and connectors, split into pieces."""
    out = []
    for j, rt in enumerate(roots.tolist()):
        if rt < 0:
            continue
        ok = (school == j) | connector
        near = adj.indices[adj.indptr[rt] : adj.indptr[rt + 1]]
        start = [int(b) for b in near if school[b] == j] + ([rt] if ok[rt] else [])
        lost = sorted(set(np.flatnonzero(school == j).tolist()) - _walk(adj, ok, start))
        while lost:
            piece = sorted(b for b in _walk(adj, ok, [lost[0]]) if school[b] == j)
            out.append((j, piece))
            lost = [b for b in lost if b not in piece]
    return sorted(out)


def test_detached_pieces_match_a_block_by_block_search_on_random_graphs() -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        n, m = int(rng.integers(5, 120)), int(rng.integers(1, 8))
        a = sp.random(n, n, density=min(3 / n, 1.0), random_state=int(rng.integers(1 << 30)), format="csr")
        adj = sp.csr_array(((a + a.T) > 0).astype(bool))
        connector = rng.random(n) < 0.15
        school = np.where(connector, -1, rng.integers(-1, m, n)).astype(np.int64)
        roots = np.full(m, -1, np.int64)
        for j in range(m):
            mine, links = np.flatnonzero(school == j), np.flatnonzero(connector)
            if len(mine) and rng.random() < 0.8:
                roots[j] = rng.choice(mine)
            elif len(links) and rng.random() < 0.5:
                roots[j] = rng.choice(links)  # a school standing on a connector
        want = _reference(school, adj, roots, connector)
        for got in (detached_pieces(school, adj, roots, connector),
                    detached_pieces(school, adj, roots, connector, group=connector_components(adj, connector))):
            assert [(j, pc.tolist()) for j, pc in got] == want
