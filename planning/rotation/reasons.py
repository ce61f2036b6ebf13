"""The stated reason of each move (an audit trail, 教师〔2014〕4号), in the report's language.

Two kinds of move, named as what they are:

- **交流轮岗 (rotation)**: a teacher of a sending (urban or strong) school goes to a receiving
  school for the stint; the reason names the quota it fills and what it raises there.
- **跟岗交流 (exchange)**: the other half of the two-way exchange — a teacher of the receiving
  school goes to the sending school to learn there (跟岗学习), so that both schools keep their
  staffing per subject. It is *not* a return from an earlier stint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from geo.model import SUBJECT_ALIASES

Language = Literal["zh", "en"]

#: Canonical subject → its Chinese name (the first alias the input may use).
SUBJECT_ZH: Mapping[str, str] = {canon: zh for zh, canon in reversed(list(SUBJECT_ALIASES.items()))}

_TEXT: Mapping[str, tuple[str, str]] = {
    "rotation": ("交流轮岗", "rotation"),
    "exchange": ("跟岗交流", "exchange (跟岗)"),
    "county": ("全县派出校", "the county's sending schools"),
    "backbone_quota": ("完成{who}骨干教师交流指标（第 {n} 人，共 {q} 人）", "backbone quota of {who} ({n} of {q})"),
    "quota": ("完成{who}交流指标（第 {n} 人，共 {q} 人）", "rotation quota of {who} ({n} of {q})"),
    "beyond": ("{src}超出指标的交流，缩小校际差距", "move from {src} beyond its quota that narrows the gap between schools"),
    "raises": ("{dst}每百名学生{what}由 {v0:.1f} 人增至 {v1:.1f} 人", "raises {what} teachers per 100 pupils at {dst} from {v0:.1f} to {v1:.1f}"),
    "backbone": ("骨干教师", "backbone"),
    "above": ("高于规定学历教师", "above-qualification"),
    "brings": ("为{dst}补充{subject}教师（来自{src}）", "brings a {subject} teacher from {src} to {dst}"),
    "learns": (
        "{src}的{subject}教师到{dst}跟岗学习，与{dst}派出的{subject}教师对换，两校{subject}教师人数不变",
        "a {subject} teacher of {src} goes to learn at {dst} (跟岗), in exchange for the {subject} teacher {dst} sends; "
        "both schools keep their {subject} staffing",
    ),
    "commute": ("通勤 {min} 分钟", "commute {min} min"),
    "same_community": ("，同一共同体内", ", within the same community"),
}


def say(key: str, language: Language, **fmt: object) -> str:
    """The text of ``key`` in ``language``, formatted."""
    zh, en = _TEXT[key]
    return (zh if language == "zh" else en).format(**fmt)


def subject_name(subject: str, language: Language) -> str:
    """A subject as the report names it: Chinese in a Chinese report, else as the input wrote it."""
    return SUBJECT_ZH.get(subject, subject) if language == "zh" else subject


def join(parts: list[str], language: Language) -> str:
    """Reason parts joined in the language's way."""
    return ("；" if language == "zh" else "; ").join(parts)
