"""Balance of a county's schools: 基本均衡 / 优质均衡 evaluation and the school strength index.

Two doors, as for every capability:

- :func:`from_arrays` — the official enrolment-weighted coefficient of variation
  (差异系数) of one indicator from per-school values and pupils::

      from planning import balance
      balance.from_arrays([6.0, 4.0, 3.0], [100, 300, 600])   # CV of three schools

- :func:`from_frames` — the whole evaluation from the schools layer and the
  teachers table: nine-year schools split, exclusions applied, the 7 优质均衡 and
  8 基本均衡 CVs per level against their thresholds, and the per-school
  "≥ 6 of 7 standards" rule, as a :class:`BalanceReport`::

      report = balance.from_frames(schools, teachers, options=balance.BalanceOptions())

:func:`strength_from_frames` classes schools strong / middle / weak as a bureau
does — by their teachers, results, demand and completeness, the standards only
as met or not, the bureau's own class winning (:class:`StrengthOptions`); :func:`compare_balance` shows CVs
before and after a change; :func:`validate_schools` checks a schools layer.
Thresholds and standards default to :mod:`geo.policy` and are overridden through
:class:`BalanceOptions`.
"""

from planning.balance.indicators import QUALITY_INDICATORS, BalanceReport, compare_balance
from planning.balance.indicators import evaluate_balance as from_frames
from planning.balance.indicators import weighted_cv as from_arrays
from planning.balance.options import BalanceOptions
from planning.balance.strength import StrengthOptions
from planning.balance.strength import strength_index as strength_from_frames
from planning.balance.validate import validate_schools

__all__ = [
    "QUALITY_INDICATORS",
    "BalanceOptions",
    "BalanceReport",
    "StrengthOptions",
    "compare_balance",
    "from_arrays",
    "from_frames",
    "strength_from_frames",
    "validate_schools",
]
