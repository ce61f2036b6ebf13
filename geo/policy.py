"""Policy numbers, each with its source: the one place they live.

These are defaults; a scenario may override any of them because provinces and
counties set their own variants (items marked *local* in ``DOMAIN.md``).
Kept in ``geo`` so that every layer (loading converts classes to seats) can
import them without ``geo`` depending on ``planning``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# --- Class size and school size (GB 50099-2011; 优质均衡 教督〔2017〕6号) ---------
CLASS_SIZE_PRIMARY: Final = 45  # GB 50099-2011
CLASS_SIZE_JUNIOR: Final = 50  # GB 50099-2011
CLASS_SIZE_RURAL_INCOMPLETE_PRIMARY: Final = 30  # incomplete rural primary school
OVERSIZED_CLASS: Final = 56  # 大班额
VERY_OVERSIZED_CLASS: Final = 66  # 超大班额
MAX_PUPILS_SINGLE_LEVEL_SCHOOL: Final = 2000  # primary or junior school
MAX_PUPILS_NINE_YEAR_SCHOOL: Final = 2500
SMALL_SCHOOL_FUNDED_AS: Final = 100  # schools with < 100 pupils funded as 100

# --- Service radius and travel (GB 50180; 国办发〔2018〕27号) -------------------
URBAN_PRIMARY_RADIUS_M: Final = 500  # 10-minute walk, GB 50180
URBAN_JUNIOR_RADIUS_M: Final = 1000  # 15-minute walk, GB 50180
URBAN_PRIMARY_WALK_S: Final = 10 * 60
URBAN_JUNIOR_WALK_S: Final = 15 * 60
RURAL_MAX_ONE_WAY_S: Final = 30 * 60  # grades 1-3 do not board, ≤ 30 min one way
WALK_SPEED_KMH: Final = 4.5  # walking speed used for children

# --- Zoning (教育部办公厅 2022 notice; 优质均衡) ----------------------------------
ZONED_ADMISSION_SHARE_PRIMARY: Final = 1.00
ZONED_ADMISSION_SHARE_JUNIOR: Final = 0.95

# --- 基本均衡 (2012) and 优质均衡 (教督〔2017〕6号) CV thresholds ----------------
BASIC_CV_MEAN_MAX: Final = MappingProxyType({"primary": 0.65, "junior": 0.55})
QUALITY_CV_MAX: Final = MappingProxyType({"primary": 0.50, "junior": 0.45})
QUALITY_MIN_STANDARDS_MET: Final = 6  # of 7 indicators per school
QUALITY_SEVENTH_MIN_SHARE: Final = 0.85  # the 7th at ≥ 85% of its standard
QUALITY_EXCLUDE_TEACHING_POINT_BELOW: Final = 50  # teaching points with < 50 pupils

# 优质均衡 standards per level (教督〔2017〕6号), keyed by canonical indicator name.
QUALITY_STANDARDS: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "primary": MappingProxyType(
            {
                "above_qualification_per_100": 4.2,
                "backbone_per_100": 1.0,
                "pe_art_per_100": 0.9,
                "floor_area_per_pupil": 4.5,
                "sports_area_per_pupil": 7.5,
                "equipment_per_pupil": 2000.0,
                "multimedia_per_100": 2.3,
            }
        ),
        "junior": MappingProxyType(
            {
                "above_qualification_per_100": 5.3,
                "backbone_per_100": 1.0,
                "pe_art_per_100": 0.9,
                "floor_area_per_pupil": 5.8,
                "sports_area_per_pupil": 10.2,
                "equipment_per_pupil": 2500.0,
                "multimedia_per_100": 2.4,
            }
        ),
    }
)

# --- Teacher rotation (教师〔2014〕4号) -------------------------------------------
ROTATION_MIN_SHARE: Final = 0.10  # ≥ 10% of eligible teachers rotate each year
ROTATION_BACKBONE_MIN_SHARE: Final = 0.20  # backbone ≥ 20% of movers (Gansu: 0.30)
ROTATION_MIN_YEARS_AT_SCHOOL: Final = 6  # Anhui, Gansu, Beijing (local)
ROTATION_MAX_AGE_MALE: Final = 50  # Gansu (local, off by default)
ROTATION_MAX_AGE_FEMALE: Final = 45  # Gansu (local, off by default)
ROTATION_EXCLUDE_YEARS_TO_RETIREMENT: Final = 5  # Beijing (local)
RETIREMENT_AGE_MALE: Final = 60
RETIREMENT_AGE_FEMALE: Final = 55
ROTATION_MAX_COMMUTE_S: Final = 60 * 60

# --- School groups (集团化办学; DOMAIN.md §4) -----------------------------------
GROUP_MIN_MEMBERS: Final = 2  # 1 lead + 2..4 members (Haidian ≈ 3-4, Baiyun ≈ 5)
GROUP_MAX_MEMBERS: Final = 4
GROUP_MAX_TRAVEL_S: Final = 60 * 60  # lead-member travel by car

# --- School bus (校车安全管理条例 2012) -------------------------------------------
SCHOOL_BUS_MAX_KMH: Final = 60
SCHOOL_BUS_MIN_SEATS: Final = 7

# --- Student aid (两免一补) --------------------------------------------------------
BOARDING_ALLOWANCE_YUAN: Final = MappingProxyType({"primary": 1000, "junior": 1250})
NUTRITION_YUAN_PER_DAY: Final = 5

# --- Births (DOMAIN.md §6) ----------------------------------------------------------
#: China's births (出生人口), millions, from the National Bureau of Statistics' yearly statistical
#: communiqués (国民经济和社会发展统计公报), 2010–2024; 2020 as revised after the 7th census.
NATIONAL_BIRTHS_M: Final = MappingProxyType({
    2010: 15.92, 2011: 16.04, 2012: 16.35, 2013: 16.40, 2014: 16.87, 2015: 16.55, 2016: 17.86, 2017: 17.23,
    2018: 15.23, 2019: 14.65, 2020: 12.02, 2021: 10.62, 2022: 9.56, 2023: 9.02, 2024: 9.54,
})  # fmt: skip


def class_size(level: str) -> int:
    """Standard class size (班额) of a level, ``primary`` or ``junior``."""
    sizes = {"primary": CLASS_SIZE_PRIMARY, "junior": CLASS_SIZE_JUNIOR}
    try:
        return sizes[level]
    except KeyError:
        msg = f"unknown level {level!r}; expected one of {sorted(sizes)}"
        raise ValueError(msg) from None

# --- Day travel and boarding by grade band (国办发〔2018〕27号; DOMAIN.md §1, §6) ----
#: Day pupils travel at most this long one way. Grades 1-3 in principle do not
#: board, so for them it is a hard limit; grades 4-6 and junior pupils beyond it
#: may board at a boarding school (寄宿制学校). The same 30 minutes is used as
#: the point beyond which an older pupil boards (assumption; local).
DAY_MAX_ONE_WAY_S: Final = RURAL_MAX_ONE_WAY_S
#: Farthest a boarding school takes boarders from, one way (assumption; local):
#: boarders go home once a week, by school bus or the family's car, and two hours
#: of road (≈ 100 km at the school bus's 60 km/h) is what a county bureau in the
#: loess hills or on the grasslands accepts for a weekly trip.
BOARDING_MAX_ONE_WAY_S: Final = 2 * 60 * 60
#: Share of primary pupils in grades 1-3 when blocks give pupils per level only
#: (assumption: six grades of equal size; falling births make the lower grades
#: slightly smaller, so this slightly overstates the young pupils).
PRIMARY_LOWER_GRADES_SHARE: Final = 0.5

# --- School strength (DOMAIN.md §7; 国办发〔2018〕27号) ----------------------------------
SMALL_RURAL_SCHOOL_PUPILS: Final = 100  # 乡村小规模学校: < 100 pupils (国办发〔2018〕27号); never strong, never leads
GRADES: Final = MappingProxyType({"primary": 6, "junior": 3})  # 六三学制: grades a complete school teaches
#: Subjects a complete school has a teacher for (义务教育课程方案 2022; IT and labour are often taught by others).
REQUIRED_SUBJECTS: Final = MappingProxyType(
    {
        "primary": ("chinese", "math", "english", "science", "morality", "pe", "music", "art"),
        "junior": (
            "chinese", "math", "english", "physics", "chemistry", "biology", "history", "geography", "morality",
            "pe", "music", "art",
        ),
    }
)


# --- Rotation: what an exchange may take from a school (assumption, local) --------
# 教师〔2014〕4号 sets the floor (10% of eligible teachers rotate) but no ceiling; county
# practice keeps a school stable by letting it lose at most about one teacher in five a year
# (local, assumed). Teaching points never send (国办发〔2018〕27号: the small schools remote
# children need are kept and run well), and no school loses its only teacher of a subject
# (县管校聘: every subject a school teaches stays staffed).
ROTATION_MAX_LOSS_SHARE: Final = 0.20

# --- Plausible magnitudes of input values (assumption; checked when the inputs load) ----------
# Not policy targets: bounds beyond which a number cannot be a real count, so that a misplaced
# digit, a county total typed into one row or a unit mix-up is an input error naming the file,
# the row and the column (exit 2) instead of a model the solver rejects or an absurd plan.
#: Pupils enrolled at, or seats of, one school at one level. The standard caps a school at 2,000
#: pupils (2,500 nine-year); the largest schools in China hold roughly ten times that.
MAX_PLAUSIBLE_SCHOOL_PUPILS: Final = 20_000
#: Classes of one school at one level: the pupil bound in classes of the standard primary size.
MAX_PLAUSIBLE_SCHOOL_CLASSES: Final = MAX_PLAUSIBLE_SCHOOL_PUPILS // CLASS_SIZE_PRIMARY
#: Teachers a staffing target may give one school for one subject: a school at the pupil bound
#: has about 1,500 teachers in all (about 13 pupils per teacher).
MAX_PLAUSIBLE_SCHOOL_TEACHERS: Final = 2_000
#: School-age children of one level (or of one group: left-behind, migrant ...) in one residential
#: unit (小区, 村, 社区). The largest urban communities have a few hundred thousand residents, of
#: whom well under a tenth are of one school level.
MAX_PLAUSIBLE_UNIT_CHILDREN: Final = 100_000
#: Ages of a working teacher: adults, and past the statutory retirement age (60 men, 55 women) a
#: few re-employed teachers (返聘) teach on until about 70.
TEACHER_AGE_MIN: Final = 18
TEACHER_AGE_MAX: Final = 70
#: Years at the current school: a whole career from the youngest to the oldest age above.
MAX_PLAUSIBLE_YEARS_AT_SCHOOL: Final = TEACHER_AGE_MAX - TEACHER_AGE_MIN

# --- Subjects a school may teach without a teacher of its own (义务教育课程方案 2022) ---------------
#: 综合实践活动, 心理健康教育, 劳动 and 书法 are taught in most schools by teachers of other subjects
#: (class teachers, the Chinese teacher for 书法); a teacher whose main subject is one of them is
#: accepted, counted in headcounts and may rotate, but a school without one is not short of a subject:
#: they are not in :data:`REQUIRED_SUBJECTS`, and a school is never required to keep one.
SHARED_SUBJECTS: Final = ("practice", "psychology", "labour", "calligraphy")
