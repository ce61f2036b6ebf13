"""Every decision's reason (planning/layout/reasons.py): built from the plan's own figures, checked by hand on toys.

The toys are those of test_layout_model.py (a village school 2 min from its unit and 10 min from the town school); the
money is worked out from the default costs of planning/layout/options.py in each test's comment."""

from __future__ import annotations

import dataclasses

import numpy as np

from planning.layout.model import plan_layout
from planning.layout.options import LayoutOptions
from planning.layout.reasons import Reason, explain, money_text, reason_text
from planning.limits import SolveLimits
from tests.planning.layout.test_layout_model import FREE, problem

LIMITS = SolveLimits(time_limit_s=5.0, workers=1)
NAMES = ["王村小学", "镇中心小学", "新区小学（选址）"]
#: Yearly yuan of a child's extra minute on the road each way, by day: twice a day, 190 days, 15 yuan an hour.
PER_MINUTE_DAY = 2 / 60 * 190 * 15


def _merge_toy():  # type: ignore[no-untyped-def]
    return problem([[15, 15, 0], [200, 200, 0]], [[2, 10], [25, 3]], pupils=[30, 400])


def _reasons(p, options: LayoutOptions = FREE) -> tuple[Reason, ...]:  # type: ignore[no-untyped-def]
    plan = plan_layout(p, options=options, limits=LIMITS)
    return explain(p, plan, options)


def test_a_merge_names_the_receiving_school_the_minutes_and_what_it_saves() -> None:
    p = _merge_toy()
    why = _reasons(p)[0]
    # kept with its own 30 children the village school runs (150,000 a year) with its 6 classes (240,000 each) for 10
    # years: 15.9 M. Merged, the town school's 430 pupils need 10 classes instead of 9 (one class's teachers for 10
    # years and its building, 1.2 M: 3.6 M), and its 30 children ride 8 min more each way, grades 1-3 with an adult (×2)
    saved = 10 * (150_000 + 6 * 240_000) - (10 * 240_000 + 1_200_000) - 10 * (15 * 2 + 15) * 8 * PER_MINUTE_DAY
    assert why.keys() == ("pupils", "planned", "merge", "saves")
    assert why.figures("merge") == {"into": 1, "far": 10, "bus": 0, "board": 0}
    assert why.figures("saves") == {"h": 10, "money": round(saved)}
    zh = reason_text(why, "zh", names=NAMES, year=2034)
    assert zh == ("在校 30 人，2034 年预计 30 人，并入镇中心小学（单程最远 10 分钟，0 人乘校车，0 人寄宿），"
                  "与保留相比 10 年节省 1,196 万元（运行与教师费用，扣除校车、寄宿和路途）")
    en = reason_text(why, "en", names=["V", "T"], year=0)
    assert en.startswith("30 pupils today; 30 planned (today's children); merges into T (at most 10 min one way, 0 by school bus, "
                         "0 board); saves 11.96 M")


def test_the_rules_that_keep_a_school_say_so_with_the_runs_own_figures() -> None:
    p = _merge_toy()
    bureau = _reasons(dataclasses.replace(p, keep=np.array([True, False])))[0]
    assert "教育局确定保留" in reason_text(bureau, "zh", names=NAMES, year=2034)
    # a scenario that keeps schools of 20 pupils or more: the village school's 30 keep it, and the reason says 20, not 100
    large = _reasons(p, FREE.model_copy(update={"close_below_pupils": 20}))[0]
    text = reason_text(large, "zh", names=NAMES, year=2034)
    assert "在校生不少于 20 人，按规则保留" in text and "100" not in text


def test_a_school_kept_at_the_closing_cap_says_what_merging_would_save() -> None:
    # no school may close (max_close_share 0): the village school stays, and merging it would save what the merger above
    # saves (the same children, the same receiving school)
    p = _merge_toy()
    why = _reasons(p, LayoutOptions(max_close_share=0.0))[0]
    saved = _reasons(p)[0].figures("saves")["money"]
    assert why.keys() == ("pupils", "planned", "cap") and why.figures("cap") == {"h": 10, "money": saved, "closed": 0, "share": 0}
    assert "但本期撤并已达上限（已撤并 0 所，上限 0%），保留" in reason_text(why, "zh", names=NAMES, year=2034)


def test_a_school_cheaper_to_keep_says_by_how_much() -> None:
    # schools and classes cost nothing to run: the village school 25 min from the town stays, for merging it would put its
    # 30 children on a bus (4,000 a year each) for 23 more minutes each way, and the town would build a tenth class
    free = FREE.model_copy(update={"school_yuan_year": 0.0, "class_yuan_year_primary": 0.0})
    p = problem([[15, 15, 0], [200, 200, 0]], [[2, 25], [25, 3]], pupils=[30, 400])
    why = _reasons(p, free)[0]
    more = 10 * (30 * 4_000 + (15 * 2 + 15) * 23 * PER_MINUTE_DAY) + 1_200_000
    assert why.keys() == ("pupils", "planned", "cheaper")
    assert why.figures("cheaper") == {"h": 10, "money": round(more), "bus": 30, "board": 0}
    assert reason_text(why, "zh", names=NAMES, year=2034).endswith("保留比撤并 10 年省 338 万元（撤并后 30 人须乘校车，0 人须寄宿）")


def test_remote_children_keep_a_teaching_point() -> None:
    p = problem([[5, 5, 0], [5, 5, 0], [300, 300, 0]], [[10, 60, 45], [60, 10, 20], [60, 60, 3]], classes_now=[[1, 0], [1, 0], [14, 0]],
                tp=[True, True, False], boarding=[False, False, True], pupils=[10, 10, 600], tier=[0, 0, 2])
    why = _reasons(p)
    assert "教学点：部分一至三年级儿童走读 30 分钟内唯一的学校，保留" in reason_text(why[0], "zh", names=NAMES, year=2034)
    assert "并入镇中心小学" in reason_text(why[1], "zh", names=["P0", "P1", "镇中心小学"], year=2034)


def test_a_school_without_children_closes_and_a_shrinking_one_gives_its_classes() -> None:
    # no child left at the village school: it closes, saving its running cost and its 6 minimum classes for 10 years
    # (15.9 M); the town school's 400 pupils need 9 of its 12 classes
    p = problem([[0, 0, 0], [200, 200, 0]], [[2, 10], [25, 3]], classes_now=[[6, 0], [12, 0]], pupils=[30, 500])
    why = _reasons(p)
    assert why[0].keys() == ("pupils", "close") and why[0].figures("close")["money"] == 15_900_000
    closed, shrunk = (reason_text(w, "zh", names=NAMES, year=2034) for w in why[:2])
    assert closed == "在校 30 人，2034 年没有儿童以它为现就读学校，停办，10 年节省运行与教师费用 1,590 万元"
    assert shrunk == "在校 500 人，2034 年预计 400 人，在校生不少于 100 人，按规则保留，班级 12 → 9"


def test_a_site_not_built_counts_the_children_near_it_and_every_row_has_a_reason() -> None:
    p = problem([[15, 15, 0], [200, 200, 0]], [[2, 10, 20], [25, 3, 40]], existing=[True, True, False], classes_now=[[6, 0], [6, 0], [0, 0]],
                pupils=[30, 400, 0])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    why = explain(p, plan, FREE)
    assert plan.decisions[2].decision == "not built"
    assert reason_text(why[2], "zh", names=NAMES, year=2034) == "候选校址，不建：走读 30 分钟内的 30 名儿童由现有学校接收"
    assert all(reason_text(w, lang, names=NAMES, year=2034) for w in why for lang in ("zh", "en"))  # type: ignore[arg-type]


def test_money_reads_in_its_unit() -> None:
    assert money_text(11_958_000, "zh") == "1,196 万元" and money_text(3_383_250, "zh") == "338 万元"
    assert money_text(250_000_000, "zh") == "2.50 亿元" and money_text(800, "zh") == "800 元"
    assert money_text(11_958_000, "en") == "11.96 M yuan"


def test_a_merge_into_two_schools_gives_each_its_own_longest_trip() -> None:
    # the village school's unit 0 goes to A (10 min), its unit 1 to B (5 min): the clause of A does not borrow B's minutes
    p = problem([[10, 10, 0], [5, 5, 0], [200, 200, 0], [200, 200, 0]], [[2, 10, 40], [3, 40, 5], [25, 3, 40], [25, 40, 3]],
                pupils=[30, 400, 400])
    why = _reasons(p)[0]
    assert why.keys() == ("pupils", "planned", "merge_part", "merge_rest", "moved", "saves")
    text = reason_text(why, "zh", names=["王村小学", "甲校", "乙校"], year=2034)
    assert "并入甲校（20 人，单程最远 10 分钟），另 10 人到其他 1 所学校（单程最远 5 分钟），共 0 人乘校车，0 人寄宿，与保留相比" in text
