"""Default unit sizes and unit costs of the measures of an achievement plan (达标提升方案).

Each number is a documented default that a scenario overrides (``[improve]``): costs vary by
province and year (DOMAIN.md §6), so none is a national rule. Where no published figure fixes
the number it is marked *assumption* with the range it was taken from.

The seven measures map one to one onto the seven 优质均衡 indicators (教督〔2017〕6号), in the
order of :data:`planning.balance.QUALITY_INDICATORS`:

=============================  =========================  ==========================================
measure (``resource``)         raises indicator           unit a bureau buys
=============================  =========================  ==========================================
above_qualification_teachers   above_qualification_per_100  one hire (headcount)
backbone_teachers              backbone_per_100           one teacher trained and designated 骨干
pe_art_teachers                pe_art_per_100             one hire (headcount)
floor_area_m2                  floor_area_per_pupil       one classroom-sized module of m²
sports_area_m2                 sports_area_per_pupil      one module of m² of sports ground
equipment_yuan                 equipment_per_pupil        one lot of yuan of teaching equipment
multimedia_rooms               multimedia_per_100         one networked multimedia classroom
=============================  =========================  ==========================================
"""

from __future__ import annotations

from typing import Final

#: The measures, in the order of the 7 优质均衡 indicators they raise.
RESOURCES: Final[tuple[str, ...]] = (
    "above_qualification_teachers",
    "backbone_teachers",
    "pe_art_teachers",
    "floor_area_m2",
    "sports_area_m2",
    "equipment_yuan",
    "multimedia_rooms",
)
#: Measures that are teachers (placed at one level of a nine-year school); the others are
#: facilities, shared by a nine-year school's two levels by pupil share as the balance code splits them.
TEACHER_RESOURCES: Final[frozenset[str]] = frozenset({"above_qualification_teachers", "backbone_teachers", "pe_art_teachers"})

# --- floor area ------------------------------------------------------------------------
#: One classroom-sized module of teaching and auxiliary floor area, m². Assumption: an ordinary
#: classroom of GB 50099-2011 (1.36 m² per pupil × 45 pupils ≈ 61 m² usable) with its share of
#: corridors, stairs and auxiliary rooms (usable / gross ≈ 0.65–0.7) is ≈ 90 m² gross.
FLOOR_MODULE_M2: Final = 90.0
#: Construction cost of school buildings, yuan per m² gross. Assumption: 2,500–3,500 yuan/m² for
#: county-level school buildings in central and western China in the 2020s (frame structure,
#: fit-out included, land excluded).
FLOOR_YUAN_PER_M2: Final = 3_000.0

# --- sports ground ----------------------------------------------------------------------
#: One module of sports ground, m² (a 10 m × 10 m patch). Assumption.
SPORTS_MODULE_M2: Final = 100.0
#: Cost of sports ground on the school's own site, yuan per m². Assumption: levelling and a
#: synthetic (塑胶) surface cost 150–350 yuan/m²; land is not bought.
SPORTS_YUAN_PER_M2: Final = 250.0
#: Share of a school's site (``site_area_m2``) that its sports ground may take at most.
#: Assumption: school sites of GB 50099-2011 layouts give about half of the site to the
#: sports ground, the rest to buildings, greenery and roads.
SPORTS_SITE_SHARE: Final = 0.5

# --- equipment and multimedia -------------------------------------------------------------
#: One lot of teaching equipment, yuan (bought at face value: the indicator counts yuan).
EQUIPMENT_LOT_YUAN: Final = 10_000.0
#: One networked multimedia classroom (交互式一体机 or projector, computer, sound, network
#: point), yuan. Assumption: 40,000–80,000 yuan in provincial procurement lists of the 2020s.
MULTIMEDIA_ROOM_YUAN: Final = 60_000.0

# --- teachers -----------------------------------------------------------------------------
#: A teacher's yearly cost to the county, yuan: pay and the employer's contributions.
#: Assumption: 70,000–110,000 yuan in central and western counties; a teacher's pay is by law
#: not below a local civil servant's (教师法; 国办发〔2018〕4号 on teachers' pay).
TEACHER_YUAN_PER_YEAR: Final = 90_000.0
#: Years of pay counted for a hire (the plan's horizon). Assumption: a five-year plan (五年规划).
SALARY_YEARS: Final = 5
#: Training and designating one county-level backbone teacher (县级骨干教师), yuan. Assumption:
#: county training programmes with mentoring and a designation allowance, 10,000–30,000 yuan.
BACKBONE_YUAN: Final = 20_000.0

# --- phasing ------------------------------------------------------------------------------
#: Years over which the measures are phased (``year`` 1..YEARS in the plan). Assumption: a
#: three-year push before the inspection (the usual 三年行动计划).
YEARS: Final = 3

__all__ = [
    "BACKBONE_YUAN",
    "EQUIPMENT_LOT_YUAN",
    "FLOOR_MODULE_M2",
    "FLOOR_YUAN_PER_M2",
    "MULTIMEDIA_ROOM_YUAN",
    "RESOURCES",
    "SALARY_YEARS",
    "SPORTS_MODULE_M2",
    "SPORTS_SITE_SHARE",
    "SPORTS_YUAN_PER_M2",
    "TEACHER_RESOURCES",
    "TEACHER_YUAN_PER_YEAR",
    "YEARS",
]
