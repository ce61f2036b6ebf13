"""Shortfalls in the report's language: one catalogue of the sentences the stages say, in Chinese.

Each stage lists the targets it cannot meet as :class:`~geo.errors.Shortfall`\\ s with a ``kind`` and the
``figures`` the sentence is made of. English is the stage's own text (``where`` and ``detail``, also in the
console and ``shortfalls.csv``); Chinese is made here from :data:`ZH`, the kind's templates, filled with the
figures. A kind this catalogue does not know (or a shortfall without one) is shown in English as given.

Templates are :meth:`str.format` strings with four additions:

* ``{x:w}`` gives the Chinese word for a code (``primary`` → 小学, an indicator key → its official name,
  a unit, or a phrase of :data:`WORDS`); a phrase is itself filled with the same figures;
* ``{x:list}`` gives a tuple of codes as words joined by 、;
* ``{x:each:KIND}`` fills the template of sub-kind ``KIND`` with each item of a tuple of figure tuples;
* ``⟦…⟧`` is kept only when every figure it names is given (and not empty).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from geo.errors import Shortfall
from maps.i18n import INDICATORS, VALUES
from maps.labels import Language

#: Chinese for the units stages give their shortfalls in (others are shown as given).
UNITS_ZH: Mapping[str, str] = {
    "seats": "个学位", "students": "名学生", "pupils": "名学生", "children": "名儿童", "teachers": "名教师",
    "movers": "名交流教师", "backbone movers": "名骨干交流教师",
    "schools": "所学校", "members": "所成员校", "leads": "所牵头校", "minutes": "分钟", "groups": "个共同体",
    "place in a group": "所学校未入共同体", "grades 1-3 boarders": "名1–3年级寄宿生",
    "places": "个学位", "strong partner": "所学校未结对强校", "lead within the travel cap": "所学校上限内无牵头校",
    "strong lead": "个共同体无强校牵头", "lead candidates": "所可牵头学校", "yuan": "元", "CV": "差异系数", "units": "个单位",
    "backbone teachers": "名骨干教师", "teachers above the required qualification": "名高于规定学历教师",
    "PE and art teachers": "名体育、艺术专任教师", "m² of floor area": "m² 教学及辅助用房",
    "m² of sports ground": "m² 体育运动场馆", "yuan of equipment": "元教学仪器设备", "multimedia classrooms": "间网络多媒体教室",
}

#: Chinese for the code words and phrases templates name (levels, groups, reasons ...); filled with the figures.
WORDS: Mapping[str, str] = {
    "nine_year": "九年一贯制学校",
    "walk": "步行 ", "bike": "骑行 ", "drive": "驾车 ", "bus": "乘校车 ",
    "grades 1-3": "1–3 年级", "grades 4-6": "4–6 年级", "grades 7-9": "7–9 年级",
    "the sending schools together": "全部派出校合计",
    # zones
    "allow_overflow": "已设 allow_overflow，允许超额",
    "fallback": "未求得不超学位的整块划片方案，改为尽量少超额",
    "no_school": "{by:w}{limit} 分钟内无学校：需寄宿⟦{or_bus:w}⟧",
    "township": "{by:w}{limit} 分钟内无本乡镇学校：需寄宿⟦{or_bus:w}⟧",
    "no_boarding_primary": "{by:w}{limit} 分钟内无学校供 1–3 年级走读，{reach} 分钟内无寄宿制学校供 4–6 年级：需在附近设教学点",
    "no_boarding": "{by:w}{limit} 分钟内无学校，{reach} 分钟内也无寄宿制学校：需在附近设寄宿制学校",
    "or_bus": "或开通校车",
    # layout
    "day": "走读时限", "day_boarding": "走读和寄宿时限",
    "unreachable": "不可达",
    "unplaced": "方案未予安置：搜索范围内没有道路通往该学段学校",
    # communities
    "kept": "；按既定共同体保留",
    "far": "超出所查通行时间范围或无道路连通",
    # rotation
    "staffing": "各学科编制保持完整，加上流失上限和通勤上限，可行的交流人选不足",
    "never_worse": "全额完成定额⟦（不受此规则约束时仍差 {free_movers} 名交流教师、{free_backbone} 名骨干教师）⟧会使目标差异系数变大"
    "⟦：{worse:each:rotation.cv}⟧；方案不使任何目标差异系数变差（never_worse）"
    "⟦；求解停止时离界限尚差 {gap}%，或有完成更多定额而不增大差异系数的方案（可提高 time_limit_s）⟧",
    # improve
    "below_85": "有指标达不到标准的 85%", "several": "不止一项指标未达到标准",
    "coupled": "各项标准共用的限制使其不能同时达标",
    "site": "受校园面积所限：运动场至多为 site_area_m2 × sports_site_share", "teachers_to_train": "可培训的教师不足",
    "hires_cap": "受每校新聘教师上限所限", "caps": "受各项上限所限", "not_allowed": "该措施未被允许（[improve] resources）",
    "training_limit": "培训名额（每年 {per_year} 名 × {years} 年）已用于需求较少的学校",
    "training_or_teachers": "培训名额或可培训教师不足",
    "hires": "各项标准共用每校新聘上限（max_hires_per_school {hires}）",
    "backbone_per_year": "培训名额上限（每年 {per_year} 名 × {years} 年）",
    "caps_together": "受各项上限共同制约",
}

#: Kind → (where, detail) or (where, detail, unit) in Chinese.
ZH: Mapping[str, tuple[str, ...]] = {
    # zones (planning/app/stages/zones.py, planning/zones/relaxation.py, repair.py)
    "zones.over_capacity": (
        "{level:w} {school_id}⟦ {name}⟧",
        "学位 {seats:,} 个，划入 {students:,} 名学生，超出 {over:,} 名（{why:w}⟦：最佳整块方案共超出 {best_over:,} 名⟧）",
    ),
    "zones.young_boarders": (
        "{level:w} {school_id}⟦ {name}⟧",
        "所在居住区 {day_min:g} 分钟内无学校，1–3 年级学生在此随高年级寄宿（1–3 年级不寄宿，国办发〔2018〕27号）：保留或新设教学点，或开通校车",
    ),
    "zones.unserved": ("居住区 {block_id}（{level:w}）", "{reason:w}"),
    "zones.reach_capacity": ("学校 {school_id}⟦（{township}）⟧", "学位 {seats:,} 个，可达范围内学生 {students:,} 名"),
    "zones.stability_cap": ("转校人数上限（max_moved）", "至少 {moved:,} 名学生须转校，上限为 {max_moved:,} 名"),
    "zones.whole_blocks": ("学校 {school_id}", "学位 {seats:,} 个，最佳整块划片方案划入 {students:,} 名学生"),
    "zones.own_blocks": (
        "居住区 {blocks:each:zones.block}", "各校所在居住区须划入本校学区，需转校 {students:,} 名学生，上限 max_moved 为 {max_moved:,} 名",
    ),
    # layout (planning/layout/model.py, locate.py)
    "layout.beyond_limits": (
        "居住区 {unit}，{group:w}",
        "{limit:w}内无学校（⟦最近的学校 {near_min:.0f} 分钟⟧⟦最近的学校{near:w}⟧）⟦；{then:w}⟧",
    ),
    "layout.county_places": ("全县{level:w}", "适龄儿童 {need:,} 名，学位至多 {seats:,} 个⟦；学校按超出班额和办学规模上限 {over_share:.0%} 规划⟧"),
    "layout.site_too_small": ("居住区 {unit}", "没有允许的校址能容纳其全部需求"),
    "layout.capacity_all": ("全县", "需求 {total:,.0f}，全部校址容量合计 {cap:,.0f}"),
    "layout.capacity_largest": ("全县", "需求 {total:,.0f}，规模最大的 {max_open} 处校址容量合计 {cap:,.0f}"),
    # communities (planning/communities/groups.py, pairing.py)
    "communities.pair_unreachable": ("⟦{level:w}：⟧{school}", "通勤上限内没有强校⟦；最近的强校 {lead} 相距 {minutes} 分钟（上限 {cap} 分钟）⟧"),
    "communities.pair_full": ("⟦{level:w}：⟧{school}", "可达的强校结对名额已满⟦；上限外最近的强校 {lead} 相距 {minutes} 分钟（上限 {cap} 分钟）⟧"),
    "communities.no_lead_near": (
        "⟦{level:w}：⟧{school}", "⟦{within:.0f} 分钟内没有牵头校；⟧最近的牵头校 {lead} 相距 {minutes:.0f} 分钟（上限 {cap:.0f} 分钟）",
    ),
    "communities.no_lead": ("⟦{level:w}：⟧{school}", "⟦{within:.0f} 分钟内没有牵头校；⟧没有任何可达的牵头校"),
    "communities.groups_full": ("⟦{level:w}：⟧{school}", "上限内的 {n} 所牵头校所领共同体均已满员"),
    "communities.left_full": (
        "⟦{level:w}：⟧{school}",
        "{cap:.0f} 分钟内的 {n} 个共同体均已满员（每个 {max_members} 所成员校）：可提高 max_members，或组建中心校+村小共同体（central_schools）",
    ),
    "communities.too_few_candidates": ("共同体", "要求组建 {asked} 个共同体，可牵头的学校只有 {candidates} 所"),
    "communities.too_little_room": ("共同体", "{must} 所学校须加入，{groups} 个共同体只能容纳 {room} 所", "所学校无共同体名额"),
    "communities.too_few_members": ("共同体", "{groups} 个共同体每个至少需 {min_members} 所成员校，可加入的学校只有 {can} 所"),
    "communities.fixed_lead_far": (
        "{level:w}：{school}",
        "既定共同体 {group}：其牵头校 {lead} ⟦相距 {minutes:.0f} 分钟⟧⟦{away:w}⟧（上限 {cap:.0f} 分钟）⟦{kept:w}⟧",
    ),
    "communities.middle_lead": (
        "{level:w}：{lead} 牵头的共同体",
        "由{strength_class:w}学校牵头⟦（办学水平 {strength:.2f}）⟧：上限内的强校所领共同体已满，由可牵头的次强学校带领这 {members} 所成员校；"
        "如有合适的强校，可在既定共同体中指定",
    ),
    "communities.group_short": (
        "{level:w}：{lead} 牵头的共同体",
        "有 {members} 所成员校，至少需 {min_members} 所：{cap:.0f} 分钟内已没有须加入或可加入的学校",
    ),
    # rotation (planning/rotation/build.py, plan.py)
    "rotation.quota": ("{group:w}", "交流轮岗定额 {quota} 名，完成 {met} 名：{because:w}"),
    "rotation.backbone_quota": ("{group:w}", "骨干教师交流定额 {quota} 名，完成 {met} 名：{because:w}"),
    "rotation.precheck_quota": (
        "{group:w}",
        "交流轮岗定额：符合条件的教师 {eligible} 名，定额 {quota} 名⟦；其中 {no_reach} 名在 {cap_min:.0f} 分钟内没有同学科、同学段的接收校⟧"
        "⟦；通勤上限内没有接收校能派回{lost:list}教师⟧",
    ),
    "rotation.precheck_backbone_none": ("{group:w}", "骨干教师交流定额：需 {quota} 名骨干教师交流，但没有符合条件的骨干教师"),
    "rotation.precheck_backbone": (
        "{group:w}", "骨干教师交流定额：需 {quota} 名骨干教师交流；符合条件的骨干教师 {eligible} 名，{cap_min:.0f} 分钟内可交流 {can} 名",
    ),
    # improve (planning/improve/model.py, shortfalls.py, plan.py)
    "improve.cv_at_cap": ("{level:w}：{indicator:w}差异系数", "各项措施均用到上限时差异系数为 {cv:.3f}，标准为 {tau:g}"),
    "improve.gap": ("{name}（{school_id}，{level:w}）", "{cause:w}：{standards:each:improve.standard}；其余标准均已达到"),
    "improve.cv_undefined": ("{level:w}：{indicator:w}差异系数", "没有学校拥有，上限也不允许增加（{why:w}）：差异系数无从计算"),
    "improve.cv_short": (
        "{level:w}：{indicator:w}差异系数",
        "在上限内差异系数最低为 {cv:.3f}（{why:w}），标准为 {tau:g}；还需超出上限约 {total:,.0f} {unit:w}，涉及 {n} 所学校："
        "{beyond:each:improve.beyond}⟦ {more}⟧",
    ),
    "improve.budget": (
        "预算",
        "全部达标需 {full:,} 元，超过预算上限 {budget:,.0f} 元；预算内（{cost:,} 元）{passed}/{n_cv} 项差异系数达标，"
        "{left} 个学校学段仍低于校际标准（共 {schools} 所学校的 {parts} 个学段）",
    ),
    "improve.budget_cv": ("{level:w}：{indicator:w}差异系数", "⟦实施后差异系数 {cv:.3f}，⟧因预算所限仍高于标准；单独达标需 {alone:,} 元"),
    "improve.budget_part": ("{name}（{school_id}，{level:w}）", "因预算所限仍低于校际标准；达标还需约 {extra:,} 元"),
    "improve.year_last": ("第 {year} 年", "无法排入更早年份的措施在最后一年超出年度预算（budget_per_year_yuan）{over:,.0f} 元"),
    "improve.year_split": ("第 {year} 年", "措施按整单位实施、不能拆分：超出年度预算（budget_per_year_yuan）{over:,.0f} 元"),
    "improve.training_year": (
        "第 {year} 年",
        "{over} 名骨干教师超出每年培训名额（backbone_per_year {per_year}）：前几年资金不足，未用足其培训名额；可提高 budget_per_year_yuan 或 years",
    ),
}

#: Sub-kind (``{x:each:KIND}``) → (joiner, the template of one item).
ITEMS: Mapping[str, tuple[str, str]] = {
    "zones.block": ("、", "{block_id}（学校 {school_id}）"),
    "improve.standard": (
        "；",
        "{indicator:w}至多达到标准的 {share:.0%}（{why:list}），还需超出上限 {amount:,.0f} {unit:w}"
        "⟦（即场地再扩大 {site:,.0f} m²，或在校外共用运动场）⟧",
    ),
    "improve.beyond": ("、", "{name} {amount:,.0f}"),
    "rotation.cv": ("、", "{level:w}·{indicator:w}（{cv_kind:w}）差异系数由 {before} 升至 {after}"),
}

_OPTIONAL = re.compile(r"⟦([^⟦⟧]*)⟧")


def word(code: object) -> str:
    """The Chinese word for a code: a unit, a value (``primary``), an indicator or a phrase of :data:`WORDS`; else as given."""
    key = str(code)
    if key in WORDS:
        return WORDS[key]
    if key in UNITS_ZH:
        return UNITS_ZH[key]
    if key in VALUES:
        return VALUES[key][0]
    if key in INDICATORS:
        return INDICATORS[key][0]
    return key


class _Formatter(string.Formatter):
    """:meth:`str.format` with the ``w``, ``list`` and ``each:KIND`` specs (see the module docstring)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "w":
            return fill(word(value), self.values)
        if format_spec == "list":
            return "、".join(fill(word(v), self.values) for v in value)
        if format_spec.startswith("each:"):
            joiner, template = ITEMS[format_spec[5:]]
            return joiner.join(fill(template, {**self.values, **dict(item)}) for item in value)
        return str(super().format_field(value, format_spec))


def _named(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def fill(template: str, values: Mapping[str, Any]) -> str:
    """``template`` filled with ``values``; each ``⟦…⟧`` kept only when all the figures it names are given."""
    def optional(m: re.Match[str]) -> str:
        ok = all(values.get(n) not in (None, "", ()) for n in _named(m.group(1)))
        return m.group(1) if ok else ""

    return _Formatter(values).vformat(_OPTIONAL.sub(optional, template), (), values)


def known(s: Shortfall) -> bool:
    """Whether the catalogue words ``s`` (its kind is in :data:`ZH`)."""
    return s.kind in ZH


def unit_text(unit: str, lang: Language) -> str:
    """The unit in the language (as given when the catalogue has no Chinese for it)."""
    return UNITS_ZH.get(unit, unit) if lang == "zh" else unit


def render(s: Shortfall, lang: Language) -> tuple[str, str, str]:
    """``(where, unit, detail)`` of ``s`` in the language: English as the stage gives it, Chinese from :data:`ZH`.

    Example
    -------
    >>> from geo.errors import figures
    >>> s = Shortfall("county, primary", 30, "places", "100 children, at most 70 places",
    ...               "layout.county_places", figures(level="primary", need=100, seats=70))
    >>> render(s, "zh")
    ('全县小学', '个学位', '适龄儿童 100 名，学位至多 70 个')
    """
    if lang != "zh" or not known(s):
        return s.where, unit_text(s.unit, lang), s.detail
    entry = ZH[s.kind]
    values = s.values
    unit = entry[2] if len(entry) > 2 else unit_text(s.unit, lang)
    return fill(entry[0], values), unit, fill(entry[1], values)


def shortfall_frame(shortfalls: Iterable[Shortfall], lang: Language) -> pd.DataFrame:
    """``where, short_by, unit, detail`` of each shortfall in the language (for the report's tables and sheets)."""
    rows = [(where, s.short_by, unit, detail) for s in shortfalls for where, unit, detail in [render(s, lang)]]
    return pd.DataFrame(rows, columns=["where", "short_by", "unit", "detail"])
