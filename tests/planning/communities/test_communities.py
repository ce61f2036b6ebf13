"""Communities: toy groupings with a hand-computed optimum, pairing, infeasibility, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from geo.errors import InfeasibleError, InputError
from geo.policy import GROUP_MAX_MEMBERS, GROUP_MAX_TRAVEL_S, GROUP_MIN_MEMBERS
from geo.travel import straight_line_matrix
from planning.communities import CommunityOptions, GroupMarks, SolveLimits
from planning.communities.frames import travel_among
from planning.communities.groups import form_communities, solve_groups
from planning.communities.options import DEFAULT_RURAL_PENALTY_S, DEFAULT_STRENGTH_WEIGHT_S
from planning.communities.pairing import form_pairs, pair_schools


def line_times(x: list[float]) -> np.ndarray:
    """Travel seconds between points on a line: |xᵢ − xⱼ|."""
    a = np.asarray(x, dtype=float)
    return np.abs(a[:, None] - a[None, :])


# ----------------------------------------------------------------------------- groups core


def test_travel_only_optimum() -> None:
    # leads L1 at 0 and L2 at 100; weak a 10, b 20, c 90, d 80; exactly 2 members each
    # optimum: {a, b} → L1 (10 + 20) and {c, d} → L2 (10 + 20) = 60 s
    ids = ["L1", "L2", "a", "b", "c", "d"]
    sol = solve_groups(
        ids,
        [1.2, 1.2, 0.6, 0.6, 0.6, 0.6],
        line_times([0, 100, 10, 20, 90, 80]),
        ["lead", "lead", "must", "must", "must", "must"],
        options=CommunityOptions(min_members=2, max_members=2, strength_weight_min=0, rural_penalty_min=0),
    )
    assert list(sol.lead_of) == [0, 1, 0, 0, 1, 1]
    assert sol.objective == pytest.approx(60.0)
    assert sol.bound <= sol.objective + 1e-9 and sol.gap == pytest.approx(0.0, abs=1e-9)


def _strength_toy(weight_s: float):
    # L1, L2 strength 1.2; weak w1, w2 (0.6) near L1 (10 s), middle m1, m2 (1.0) near L2 (10 s); cross 20 s.
    # scaled: s = 1200, 1200, 600, 600, 1000, 1000; s̄ = round(5600 / 6) = 933
    # travel-only {L1 w1 w2} {L2 m1 m2}: travel 40, deviations |267 − 666| + |267 + 134| = 399 + 401 = 800
    #   → objective 40 + 0.8·w
    # mixed {L1 w1 m1} {L2 w2 m2}: travel 10 + 20 + 20 + 10 = 60, deviations 1 + 1 = 2 → 60 + 0.002·w
    t = np.array(
        [
            # L1  L2  w1  w2  m1  m2
            [0, 30, 10, 10, 20, 20],
            [30, 0, 20, 20, 10, 10],
            [10, 20, 0, 5, 15, 15],
            [10, 20, 5, 0, 15, 15],
            [20, 10, 15, 15, 0, 5],
            [20, 10, 15, 15, 5, 0],
        ],
        dtype=float,
    )
    return solve_groups(
        ["L1", "L2", "w1", "w2", "m1", "m2"],
        [1.2, 1.2, 0.6, 0.6, 1.0, 1.0],
        t,
        ["lead", "lead", "must", "must", "must", "must"],
        options=CommunityOptions(min_members=2, max_members=2, strength_weight_min=weight_s / 60, rural_penalty_min=0),
    )


def test_strength_term_mixes_weak_schools_across_groups() -> None:
    sol = _strength_toy(100.0)  # mixed 60.2 < travel-only 120
    assert sol.lead_of[2] != sol.lead_of[3]
    assert sol.objective == pytest.approx(60.2, abs=1e-9)


def test_small_strength_weight_keeps_travel_optimum() -> None:
    sol = _strength_toy(10.0)  # travel-only 48 < mixed 60.02
    assert list(sol.lead_of) == [0, 1, 0, 0, 1, 1]
    assert sol.objective == pytest.approx(48.0, abs=1e-9)


def test_rural_member_where_possible() -> None:
    # L1 at 0, L2 at 100; rural r at 40 is nearer L1, but L2's group has no rural school otherwise.
    # members: a 10, b 20, c 90, r 40; 1–3 members. Without the rule: r → L1 (40); with it (penalty 3600): r → L2 (60).
    args = (["L1", "L2", "a", "b", "c", "r"], [1.2] * 2 + [0.6] * 4, line_times([0, 100, 10, 20, 90, 40]))
    free_opts = CommunityOptions(min_members=1, max_members=3, strength_weight_min=0, rural_penalty_min=0)
    ruled_opts = CommunityOptions(min_members=1, max_members=3, strength_weight_min=0, rural_penalty_min=60)
    rural = GroupMarks(rural=[False, False, False, False, False, True])
    roles = ["lead", "lead", "must", "must", "must", "must"]
    free = solve_groups(*args, roles, marks=rural, options=free_opts)
    assert free.lead_of[5] == 0
    ruled = solve_groups(*args, roles, marks=rural, options=ruled_opts)
    # L1 still lacks a rural member: one group pays the penalty either way; r goes where it costs less travel.
    assert ruled.lead_of[5] == 0 and ruled.objective == pytest.approx(10 + 20 + 10 + 40 + 3600)
    rural2 = GroupMarks(rural=[False, False, True, False, False, True])  # a is rural too: both groups can have one
    both = solve_groups(*args, roles, marks=rural2, options=ruled_opts)
    assert both.lead_of[5] == 1 and both.objective == pytest.approx(10 + 20 + 10 + 60)


def test_unreachable_weak_school_is_named() -> None:
    t = line_times([0, 10, 20, 10_000])
    args = (["L", "a", "b", "far"], [1.2, 0.6, 0.6, 0.6], t, ["lead", "must", "must", "must"])
    msg = r"(?s)1 school.*no lead within the travel cap.*far: short by 1 lead.*nearest lead beyond the cap: L, 167 min away \(cap 60 min\)"
    with pytest.raises(InfeasibleError, match=msg):
        solve_groups(*args, options=CommunityOptions(max_travel_min=60, min_members=1))
    sol = solve_groups(*args, options=CommunityOptions(max_travel_min=60, min_members=1, allow_unassigned=True))
    assert sol.lead_of[3] == -1 and sol.unassigned[3] == "no lead within 60 min; nearest lead beyond the cap: L, 167 min away (cap 60 min)"
    assert list(sol.lead_of[:3]) == [0, 0, 0]


def test_sizes_that_cannot_hold_the_schools() -> None:
    t = line_times([0, 1, 2, 3, 4, 5])
    with pytest.raises(InfeasibleError, match=r"(?s)group sizes cannot hold.*5 schools must join but 1 groups hold 4"):
        solve_groups(list("Labcde"), [1.2] + [0.6] * 5, t, ["lead"] + ["must"] * 5, options=CommunityOptions(max_members=4))
    with pytest.raises(InfeasibleError, match="2 groups need 2 members each but 3 schools can join"):
        solve_groups(list("LMabc"), [1.2, 1.2, 0.6, 0.6, 0.6], line_times([0, 1, 2, 3, 4]), ["lead", "lead", "must", "must", "must"])


def test_fixed_membership_is_kept() -> None:
    # b (20) would go to L1 on travel, but an existing group ties it to L2 (100)
    ids = ["L1", "L2", "a", "b", "c", "d"]
    fixed = GroupMarks(fixed_lead_of=[-1, -1, -1, 1, -1, -1])
    sol = solve_groups(
        ids, [1.2, 1.2, 0.6, 0.6, 0.6, 0.6], line_times([0, 100, 10, 20, 90, 80]), ["lead", "lead", "must", "must", "must", "must"],
        marks=fixed, options=CommunityOptions(min_members=1, max_members=3, strength_weight_min=0, rural_penalty_min=0),
    )
    assert sol.lead_of[3] == 1 and sol.objective == pytest.approx(10 + 80 + 10 + 20)


def test_issue14_case18_core_takes_a_fixed_membership_without_a_travel_time() -> None:
    # b is fixed to L1 but no travel time is known between them (beyond the matrix's cutoff): no crash
    t = line_times([0, 10, 20])
    t[0, 2] = t[2, 0] = np.inf
    sol = solve_groups(
        ["L1", "a", "b"], [1.2, 0.6, 0.6], t, ["lead", "must", "must"], marks=GroupMarks(fixed_lead_of=[-1, -1, 0]),
        options=CommunityOptions(min_members=1, max_members=2, strength_weight_min=0, rural_penalty_min=0),
    )
    assert list(sol.lead_of) == [0, 0, 0]
    assert sol.objective == pytest.approx(10.0)  # a's 10 s; b's unknown travel is in every plan alike and costs nothing


def test_bad_roles_rejected() -> None:
    with pytest.raises(InputError, match="unknown roles"):
        solve_groups(["a", "b"], [1.0, 1.0], np.zeros((2, 2)), ["lead", "boss"])


# ----------------------------------------------------------------------------- pairing


def test_pairing_hand_optimum() -> None:
    # weak × strong travel; k = 2. Optimum: w0 → s0 (10), w1 → s1 (5), w2 → s0 (30) = 45
    t = np.array([[10, 20], [15, 5], [30, np.inf]])
    sol = pair_schools(t, k=2)
    assert list(sol.partner) == [0, 1, 0] and sol.objective == 45
    # k = 1: w2 can only reach s0; best is w2 → s0 (30), w0 → s1 (20), w1 unpaired? no: w1 → s1 conflicts.
    # Max pairs = 2 (s0 and s1 each once): min cost among 2-pairings = w0→s0 + w1→s1 = 15.
    sol1 = pair_schools(t, k=1, allow_unpaired=True)
    assert sol1.objective == 15 and sol1.unpaired == {2: "strong schools in reach are full"}
    with pytest.raises(InfeasibleError, match=r"(?s)1 weak school.*c: short by 1 strong partner \(strong schools in reach are full\).*k \(now 1\)"):
        pair_schools(t, k=1, weak_ids=["a", "b", "c"])


@pytest.mark.parametrize("unreachable", [False, True])  # True: one pair unreachable → min-cost flow, else assignment
def test_pairing_matches_brute_force(unreachable: bool) -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        t = rng.integers(1, 100, size=(5, 3)).astype(float)
        if unreachable:
            t[0, 0] = np.inf
        k = 2
        best = min(
            sum(t[i, s] for i, s in enumerate(choice))
            for choice in itertools.product(range(3), repeat=5)
            if max(np.bincount(choice, minlength=3)) <= k
        )
        assert pair_schools(t, k=k).objective == best


def test_pairing_unreachable_reason() -> None:
    sol = pair_schools(np.array([[10.0], [5000.0]]), k=3, max_travel_s=3600, allow_unpaired=True)
    assert sol.unpaired == {1: "no strong school within the travel cap"}


# ----------------------------------------------------------------------------- frame level


#: Positions (m) of the schools of :func:`county`, in its order.
_COUNTY_XY = np.array(
    [[0, 0], [10_000, 0], [5_000, 5_000], [1_000, 0], [1_000, 1_000], [2_000, 0], [9_000, 0], [11_000, 1_000], [4_000, 4_000], [0, 2_000]],
    float,
)


def county() -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """Two strong urban primaries, one strong junior, a nine-year middle school, weak/rural schools."""
    ids = ["P1", "P2", "N1", "J1", "w1", "w2", "w3", "w4", "j1", "j2"]
    schools = pd.DataFrame(
        {
            "school_id": ids,
            "level": ["primary", "primary", "nine_year", "junior", "primary", "primary", "primary", "primary", "junior", "junior"],
            "area_type": ["urban", "urban", "town", "urban", "rural", "rural", "town", "rural", "rural", "town"],
        }
    )
    strength = pd.DataFrame(
        {
            "strength": [1.3, 1.25, 1.0, 1.3, 0.7, 0.8, 0.6, 0.85, 0.7, 0.75],
            "strength_class": ["strong", "strong", "middle", "strong", "weak", "weak", "weak", "weak", "weak", "weak"],
        },
        index=pd.Index(ids, name="school_id"),
    )
    travel = straight_line_matrix(np.array(ids), _COUNTY_XY, np.array(ids), _COUNTY_XY, speed_kmh=30, cutoff_s=3600, mode="drive")
    return schools, strength, travel


def test_form_communities_by_level_and_pairs() -> None:
    schools, strength, travel = county()
    plan = form_communities(schools, strength, travel, options=CommunityOptions(min_members=1, max_members=3))
    g = plan.groups
    assert list(g.columns[:3]) == ["school_id", "group_id", "role"]
    assert set(g["level"]) == {"primary", "junior"}
    prim = g[g["level"] == "primary"]
    # 4 primary schools must join (weak or rural) → ⌈4/3⌉ = 2 groups led by the 2 strongest: P1, P2
    assert sorted(prim.loc[prim["role"] == "lead", "school_id"]) == ["P1", "P2"]
    assert set(prim.loc[prim["role"] == "member", "school_id"]) >= {"w1", "w2", "w3", "w4"}
    assert set(prim["group_id"]) == {"P-P1", "P-P2"}
    jun = g[g["level"] == "junior"]
    assert sorted(jun.loc[jun["role"] == "lead", "school_id"]) == ["J1"]
    assert set(jun["group_id"]) == {"J-J1"}
    assert plan.metrics["primary"]["gap"] <= 0.01 + 1e-12 and plan.metrics["primary"]["bound"] <= plan.metrics["primary"]["objective"]
    # pairs: every weak school with a strong school of its level
    assert sorted(plan.pairs["weak_id"]) == ["j1", "j2", "w1", "w2", "w3", "w4"]
    assert set(plan.pairs.loc[plan.pairs["level"] == "junior", "strong_id"]) == {"J1"}
    gm = plan.group_metrics.set_index("group_id")
    assert gm["members"].sum() == len(g[g["role"] == "member"])


def test_fixed_group_and_given_leads() -> None:
    schools, strength, travel = county()
    fixed = pd.DataFrame({"school_id": ["P2", "w1"], "group_id": ["老集团", "老集团"], "role": ["lead", "member"]})
    opts = CommunityOptions(lead_mode="given", lead_ids=["P1", "J1"], min_members=1, max_members=3, levels="by_level")
    plan = form_communities(schools, strength, travel, options=opts, fixed_groups=fixed)
    g = plan.groups.set_index(["level", "school_id"])
    assert g.loc[("primary", "w1"), "group_id"] == "老集团" and bool(g.loc[("primary", "w1"), "fixed"])
    assert g.loc[("primary", "P2"), "role"] == "lead"


def test_issue14_case18_a_fixed_member_beyond_the_travel_search_is_kept_and_listed() -> None:
    # last year's group of P1 with w4 (11 km away), fed back with travel searched only to 15 minutes
    schools, strength, _ = county()
    ids = np.array(schools["school_id"])
    travel = straight_line_matrix(ids, _COUNTY_XY, ids, _COUNTY_XY, speed_kmh=30, cutoff_s=900, mode="drive")
    fixed = pd.DataFrame({"school_id": ["P1", "w4"], "group_id": ["老集团", "老集团"], "role": ["lead", "member"]})
    opts = CommunityOptions(min_members=1, max_members=3, max_travel_min=5, allow_unassigned=True)
    plan = form_communities(schools, strength, travel, options=opts, fixed_groups=fixed)
    g = plan.groups.set_index(["level", "school_id"])
    assert (g.loc[("primary", "w4"), "group_id"], g.loc[("primary", "w4"), "lead_id"]) == ("老集团", "P1")
    assert pd.isna(g.loc[("primary", "w4"), "travel_s"])  # not known: left empty, not a made-up number
    (sf,) = [s for s in plan.shortfalls if s.where == "primary: w4"]
    assert (sf.short_by, sf.unit) == (1, "lead within the travel cap")
    assert sf.detail == (
        "fixed group 老集团: its lead P1 is too far for the travel times searched, or not connected by road (cap 5 min); "
        "kept as the fixed groups have it"
    )
    gm = plan.group_metrics.set_index("group_id")
    assert gm.loc["老集团", "members"] >= 1 and gm.loc["老集团", "total_travel_s"] >= 0
    # a fixed member within the search but beyond the cap: its travel is known and said
    near = straight_line_matrix(ids, _COUNTY_XY, ids, _COUNTY_XY, speed_kmh=30, cutoff_s=3600, mode="drive")
    plan = form_communities(schools, strength, near, options=opts, fixed_groups=fixed)
    (sf,) = [s for s in plan.shortfalls if s.where == "primary: w4"]
    # 11.0 km in a straight line × 1.3 detour at 30 km/h
    assert sf.detail == "fixed group 老集团: its lead P1 is 29 min away (cap 5 min); kept as the fixed groups have it"
    # strict (no unassigned schools allowed): the plan stops and says why
    with pytest.raises(InfeasibleError, match=r"1 member\(s\) of fixed groups are beyond the travel cap from their lead") as exc:
        form_communities(schools, strength, travel, options=opts.model_copy(update={"allow_unassigned": False}), fixed_groups=fixed)
    assert "primary: w4: short by 1 lead within the travel cap (fixed group 老集团: its lead P1 is too far" in str(exc.value)
    assert "kept" not in str(exc.value)


def test_bad_lead_ids_and_fixed_groups() -> None:
    schools, strength, travel = county()
    with pytest.raises(InputError, match="ZZ, column 'lead_ids': lead is not in the schools layer"):
        form_communities(schools, strength, travel, options=CommunityOptions(lead_mode="given", lead_ids=["ZZ"]))
    bad = pd.DataFrame({"school_id": ["P1", "P2"], "group_id": ["g", "g"], "role": ["lead", "lead"]})
    with pytest.raises(InputError, match="group g has 2 leads"):
        form_communities(schools, strength, travel, fixed_groups=bad)


def test_deterministic() -> None:
    schools, strength, travel = county()
    opts = CommunityOptions(min_members=1, max_members=3)
    a = form_communities(schools, strength, travel, options=opts, limits=SolveLimits(seed=7))
    b = form_communities(schools, strength, travel, options=opts, limits=SolveLimits(seed=7))
    pd.testing.assert_frame_equal(a.groups, b.groups)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    assert a.metrics["primary"]["objective"] == b.metrics["primary"]["objective"]


def test_full_groups_within_reach_are_named() -> None:
    # L1 at 0 and L2 at 10 000 s apart; a, b, c only reach L1 (cap 3600 s), d only L2; 2 members at most:
    # 4 places for 4 schools in all, but L1 cannot take 3
    t = line_times([0, 10_000, 100, 200, 300, 9_900])
    args = (["L1", "L2", "a", "b", "c", "d"], [1.2, 1.2, 0.6, 0.6, 0.6, 0.6], t, ["lead", "lead", "must", "must", "must", "must"])
    with pytest.raises(InfeasibleError, match=r"(?s)1 school.*every group within the travel cap full.*short by 1 place in a group \(the 1 lead"):
        solve_groups(*args, options=CommunityOptions(min_members=1, max_members=2, max_travel_min=60))
    sol = solve_groups(*args, options=CommunityOptions(min_members=1, max_members=2, max_travel_min=60, allow_unassigned=True))
    assert sol.lead_of[5] == 1 and sorted(sol.lead_of[2:5]) == [-1, 0, 0] and len(sol.unassigned) == 1


def test_strongest_mode_adds_groups_until_everyone_has_room() -> None:
    schools, strength, _ = county()
    ids = list(strength.index)
    # w1, w2, w3 near P1 (max 2 members), w4 near P2; cap 20 min ≈ 7.7 km straight: P2 cannot reach w1-w3,
    # so 2 groups leave one of them without room → the next strongest eligible school, N1, leads a third
    xy = np.array(
        [[0, 0], [10_000, 0], [5_000, 5_000], [1_000, 0], [1_000, 1_000], [2_000, 0], [1_500, 500], [11_000, 1_000], [4_000, 4_000], [0, 2_000]],
        float,
    )
    travel = straight_line_matrix(np.array(ids), xy, np.array(ids), xy, speed_kmh=30, cutoff_s=1200, mode="drive")
    plan = form_communities(
        schools, strength, travel, options=CommunityOptions(min_members=1, max_members=2, max_travel_min=20, pair_k=0)
    )
    prim = plan.groups[plan.groups["level"] == "primary"]
    assert sorted(prim.loc[prim["role"] == "lead", "school_id"]) == ["N1", "P1", "P2"]
    assert set(prim.loc[prim["role"] == "member", "school_id"]) >= {"w1", "w2", "w3", "w4"}


def test_mixed_levels_and_optimized_leads() -> None:
    schools, strength, travel = county()
    mixed = form_communities(
        schools, strength, travel, options=CommunityOptions(levels="mixed", min_members=1, max_members=3, pair_k=0)
    )
    assert set(mixed.groups["level"]) == {"all"} and all(g.startswith("G-") for g in mixed.groups["group_id"])
    assert mixed.groups["school_id"].is_unique  # nine-year N1 appears once when levels are mixed
    opt = form_communities(
        schools,
        strength,
        travel,
        options=CommunityOptions(lead_mode="optimize", n_groups=2, min_members=1, max_members=3, pair_k=0),
    )
    prim = opt.groups[opt.groups["level"] == "primary"]
    assert (prim["role"] == "lead").sum() == 2
    assert set(prim.loc[prim["role"] == "member", "school_id"]) >= {"w1", "w2", "w3", "w4"}
    assert opt.metrics["primary"]["bound"] <= opt.metrics["primary"]["objective"] + 1e-9


# ----------------------------------------------------------------------------- options, travel lookup, pairs door


def test_options_defaults_are_the_policy_numbers_in_seconds() -> None:
    opts = CommunityOptions()
    assert (opts.min_members, opts.max_members) == (GROUP_MIN_MEMBERS, GROUP_MAX_MEMBERS)
    assert opts.max_travel_s == GROUP_MAX_TRAVEL_S
    assert (opts.strength_weight_s, opts.rural_penalty_s) == (DEFAULT_STRENGTH_WEIGHT_S, DEFAULT_RURAL_PENALTY_S)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_members": 5, "max_members": 3}, r"min_members \(5\) must be ≤ max_members \(3\)"),
        ({"lead_mode": "given"}, "needs lead_ids"),
        ({"n_groups": 0}, "greater than or equal to 1"),
        ({"max_travel_min": 0}, "greater than 0"),
        ({"middle": "sometimes"}, "'exclude', 'optional' or 'include'"),
        ({"max_travel": 30}, "Extra inputs are not permitted"),
    ],
)
def test_options_reject_bad_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        CommunityOptions(**kwargs)  # type: ignore[arg-type]


def test_travel_among_looks_up_by_id_with_zero_diagonal() -> None:
    _, _, travel = county()
    ids = np.array(["w3", "P1", "j2", "J1"])
    full = travel.dense("time_s")
    pos = [list(travel.origin_ids).index(i) for i in ids]
    expected = full[np.ix_(pos, pos)]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_array_equal(travel_among(travel, ids), expected)
    with pytest.raises(InputError, match=r"(?s)travel, X1: school missing from the travel matrix.*X2"):
        travel_among(travel, ["P1", "X2", "X1"])


def test_groups_core_takes_a_travel_matrix_by_id() -> None:
    # the same toy as test_travel_only_optimum, the matrix built over the schools in another order
    ids = ["L1", "L2", "a", "b", "c", "d"]
    x = [0.0, 100.0, 10.0, 20.0, 90.0, 80.0]
    order = [3, 0, 5, 1, 4, 2]
    xy = np.array([[x[k] / 3.6 * 30, 0.0] for k in order])  # 30 km/h straight line: x seconds apart
    travel = straight_line_matrix(np.array(ids)[order], xy, np.array(ids)[order], xy, speed_kmh=30, detour_factor=1.0, mode="drive")
    opts = CommunityOptions(min_members=2, max_members=2, strength_weight_min=0, rural_penalty_min=0)
    sol = solve_groups(ids, [1.2, 1.2, 0.6, 0.6, 0.6, 0.6], travel, ["lead", "lead", "must", "must", "must", "must"], options=opts)
    assert list(sol.lead_of) == [0, 1, 0, 0, 1, 1] and sol.objective == pytest.approx(60.0)


def test_pairs_door_gives_the_pairs_of_the_communities() -> None:
    schools, strength, travel = county()
    opts = CommunityOptions(min_members=1, max_members=3)
    plan = form_communities(schools, strength, travel, options=opts)
    pairs = form_pairs(schools, strength, travel, options=opts)
    pd.testing.assert_frame_equal(pairs.pairs, plan.pairs)
    assert pairs.unpaired.empty
    for lv, m in pairs.metrics.items():
        assert m == {k: plan.metrics[lv][k] for k in m}
    with pytest.raises(InputError, match="w1: school missing from the strength index"):
        form_pairs(schools, strength.drop(index="w1"), travel, options=opts)


# ----------------------------------------------------------------------------- who may lead; 中心校+村小; shortfalls


def township_county() -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """U: strong urban school; 甲镇 and 乙镇 each with a central school and rural schools; V: a bureau-'strong'
    village school of 80 pupils; TP: a teaching point. Points on a line, km apart."""
    rows = [
        # id, name, area, township, pupils, tp, class, strength, x km
        ("U", "县一小", "urban", "城关镇", 1500, False, "strong", 1.3, 0),
        ("A0", "甲镇中心小学", "town", "甲镇", 400, False, "middle", 0.95, 10),
        ("A1", "甲一村小学", "rural", "甲镇", 60, False, "weak", 0.6, 12),
        ("A2", "甲二村小学", "rural", "甲镇", 50, False, "weak", 0.6, 13),
        ("A3", "甲三村教学点", "rural", "甲镇", 20, True, "weak", 0.4, 14),
        ("B0", "乙镇中心小学", "town", "乙镇", 350, False, "middle", 0.9, -10),
        ("B1", "乙一村小学", "rural", "乙镇", 70, False, "weak", 0.6, -12),
        ("V", "丙村小学", "rural", "乙镇", 80, False, "strong", 1.4, -11),
        ("TP", "丁村教学点", "town", "城关镇", 30, True, "strong", 1.35, 1),
    ]
    f = pd.DataFrame(rows, columns=["school_id", "name", "area_type", "township", "pupils", "teaching_point", "cls", "s", "x"])
    schools = f[["school_id", "name", "area_type", "township", "teaching_point"]].assign(level="primary")
    strength = pd.DataFrame(
        {"strength": f["s"].to_numpy(), "strength_class": f["cls"].to_numpy(), "pupils": f["pupils"].to_numpy(),
         "teaching_point": f["teaching_point"].to_numpy(), "complete": ~f["teaching_point"].to_numpy()},
        index=pd.Index(f["school_id"], name="school_id"),
    )  # fmt: skip
    ids = f["school_id"].to_numpy()
    xy = np.column_stack([f["x"].to_numpy() * 1000.0, np.zeros(len(f))])
    travel = straight_line_matrix(ids, xy, ids, xy, speed_kmh=30, cutoff_s=3 * 3600, mode="drive")
    return schools, strength, travel


def test_teaching_points_small_and_rural_schools_never_lead_or_partner() -> None:
    schools, strength, travel = township_county()
    plan = form_communities(schools, strength, travel, options=CommunityOptions(min_members=1, max_members=4))
    leads = set(plan.groups.loc[plan.groups["role"] == "lead", "school_id"])
    # V (bureau-strong, 80 pupils, rural) and TP (strong teaching point) may not lead; U and the central schools may
    assert leads <= {"U", "A0", "B0"} and "U" in leads
    assert set(plan.pairs["strong_id"]) == {"U"}  # the only strong school that may partner
    anyone = CommunityOptions(min_members=1, max_members=4, lead_area_types=None, lead_min_pupils=0)
    loose = form_communities(schools, strength, travel, options=anyone)
    assert "V" in set(loose.groups.loc[loose.groups["role"] == "lead", "school_id"]) | set(loose.pairs["strong_id"])
    assert "TP" not in set(loose.pairs["strong_id"])  # a teaching point never partners


def test_central_schools_lead_their_own_township() -> None:
    schools, strength, travel = township_county()
    opts = CommunityOptions(min_members=1, max_members=2, central_schools=True, pair_k=0)
    plan = form_communities(schools, strength, travel, options=opts)
    g = plan.groups.set_index("school_id")
    # 甲镇: its central school leads all three of its rural schools, above max_members
    assert g.loc["A0", "group_id"] == "C-A0" and g.loc["A0", "role"] == "lead"
    assert {s for s in ("A1", "A2", "A3") if g.loc[s, "lead_id"] == "A0"} == {"A1", "A2", "A3"}
    assert g.loc["B1", "lead_id"] == "B0" and g.loc["V", "lead_id"] == "B0"
    assert plan.metrics["primary"]["central_groups"] == 2 and not plan.shortfalls


def test_a_group_short_of_members_is_a_shortfall_not_a_stop() -> None:
    # L1 at 0, L2 at 100 (both must lead); a 10, b 20, c 90: min 2 members → L2's group can have only c
    args = (["L1", "L2", "a", "b", "c"], [1.2, 1.2, 0.6, 0.6, 0.6], line_times([0, 100, 10, 20, 90]), ["lead", "lead", "must", "must", "must"])
    with pytest.raises(InfeasibleError, match=r"(?s)group sizes cannot hold the schools.*2 groups need 2 members each but 3 schools can join"):
        solve_groups(*args, options=CommunityOptions(min_members=2, max_members=4))
    sol = solve_groups(*args, options=CommunityOptions(min_members=2, max_members=4, allow_unassigned=True))
    assert list(sol.lead_of) == [0, 1, 0, 0, 1] and dict(sol.short) == {1: 1}


def test_a_school_no_lead_can_reach_adds_no_empty_groups() -> None:
    schools, strength, travel = township_county()
    opts = CommunityOptions(min_members=1, max_members=4, allow_unassigned=True, pair_k=0)
    base = form_communities(schools, strength, travel, options=opts)
    far = pd.DataFrame({"school_id": ["Z"], "name": ["远村小学"], "area_type": ["rural"], "township": ["丙镇"],
                        "teaching_point": [False], "level": ["primary"]})  # fmt: skip
    s2 = pd.concat([schools, far], ignore_index=True)
    st2 = pd.concat([strength, pd.DataFrame({"strength": [0.5], "strength_class": ["weak"], "pupils": [40], "teaching_point": [False],
                                             "complete": [True]}, index=pd.Index(["Z"], name="school_id"))])  # fmt: skip
    ids = s2["school_id"].to_numpy()
    x = np.array([0, 10, 12, 13, 14, -10, -12, -11, 1, 300]) * 1000.0
    t2 = straight_line_matrix(ids, np.column_stack([x, 0 * x]), ids, np.column_stack([x, 0 * x]), speed_kmh=30, cutoff_s=3 * 3600 * 10, mode="drive")
    plan = form_communities(s2, st2, t2, options=opts)
    lead_ids = set(plan.groups.loc[plan.groups["role"] == "lead", "school_id"])
    assert lead_ids == set(base.groups.loc[base.groups["role"] == "lead", "school_id"])
    assert (plan.group_metrics["members"] > 0).all()
    (z,) = [sf for sf in plan.shortfalls if "Z" in sf.where and sf.unit == "place in a group"]
    assert z.where == "primary: 远村小学 (Z)" and "nearest lead beyond the cap: " in z.detail
