"""The 中心校+村小 form: a township's central school leads its own village schools and teaching points.

In most rural counties the township central school (乡镇中心校, usually the
boarding school of the township seat) already runs the village schools and
teaching points of its township: it sets their timetables, sends teachers and
holds their teaching research. With ``central_schools = true`` these groups are
formed first and kept like existing groups (``fixed_groups``); the schools they
leave over (urban and town schools that must join, village schools of a
township without a central school or beyond the travel cap) are grouped as
usual.

**Which school is central**, per township and level: among the township's
schools that teach the level and may lead by size and completeness (no
teaching point, at least ``lead_min_pupils`` pupils, complete — whatever their
strength class and area type), the first by (name contains 中心, boarding,
not rural, pupils, id). **Members**: every rural school of the township at that
level within ``max_travel_min`` of it, however many (a township's 村小 all belong
to its 中心校); schools already in a fixed group stay where they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from planning.communities.frames import may_lead
from planning.communities.options import CommunityOptions

#: Marks a central school in its name (中心小学, 中心校).
CENTRAL_MARK = "中心"
#: Prefix of the id of a 中心校+村小 group (then the lead's id).
CENTRAL_PREFIX = "C-"


def central_groups(
    lv: str, sub: pd.DataFrame, t: NDArray[np.float64], fixed: pd.DataFrame, *, options: CommunityOptions
) -> pd.DataFrame:
    """The 中心校+村小 groups of one level, as rows of a fixed-groups table.

    Parameters
    ----------
    lv
        Level (``primary``, ``junior`` or ``all``), written to the ``level`` column.
    sub
        The level's schools (:func:`planning.communities.frames.school_info`).
    t
        Travel seconds among them (rows origins).
    fixed
        The level's existing groups (``school_id, group_id, role, level``); their schools are left alone.
    options
        ``lead_min_pupils`` and ``max_travel_min`` are used.

    Returns
    -------
    pandas.DataFrame
        ``school_id, group_id, role, level`` (empty when no township has a central school with members).
    """
    cols = ["school_id", "group_id", "role", "level"]
    if "township" not in sub.columns:
        return pd.DataFrame(columns=cols)
    ids = sub.index.to_numpy().astype(str)
    taken = set(fixed["school_id"])
    can = may_lead(sub, min_pupils=options.lead_min_pupils, area_types=None) & ~np.isin(ids, list(taken))
    rural = (sub["area_type"].to_numpy() == "rural") & ~np.isin(ids, list(taken))
    town = sub["township"].to_numpy().astype(str)
    rows: list[dict[str, str]] = []
    for tw in sorted(set(town) - {"", "nan", "None"}):
        here = np.nonzero((town == tw) & can)[0]
        if not len(here):
            continue
        c = min(
            here,
            key=lambda k: (
                CENTRAL_MARK not in str(sub["name"].iloc[k]), not bool(sub["boarding"].iloc[k]), bool(rural[k]),
                -float(np.nan_to_num(sub["pupils"].iloc[k])), ids[k],
            ),
        )  # fmt: skip
        members = [k for k in np.nonzero((town == tw) & rural)[0] if k != c and t[c, k] <= options.max_travel_s]
        if not members:
            continue
        gid = f"{CENTRAL_PREFIX}{ids[c]}"
        rows.append({"school_id": ids[c], "group_id": gid, "role": "lead", "level": lv})
        rows += [{"school_id": ids[k], "group_id": gid, "role": "member", "level": lv} for k in members]
    return pd.DataFrame(rows, columns=cols)
