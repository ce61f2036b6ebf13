"""Options of the balance evaluation: the policy thresholds and standards a scenario may override.

Defaults are the national numbers of :mod:`geo.policy` (基本均衡 2012, 优质均衡
教督〔2017〕6号). A scenario overrides any part of them; what it leaves out keeps
its default::

    [balance]
    quality_cv_max = {primary = 0.5, junior = 0.45}
    basic_cv_mean_max = {junior = 0.5}

    [balance.quality_standards.primary]
    floor_area_per_pupil = 5.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from geo.model import LEVELS
from geo.policy import BASIC_CV_MEAN_MAX, QUALITY_CV_MAX, QUALITY_STANDARDS

#: A policy number: finite and > 0.
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]

_PER_LEVEL_DEFAULTS: Mapping[str, Mapping[str, float]] = {
    "quality_cv_max": QUALITY_CV_MAX,
    "basic_cv_mean_max": BASIC_CV_MEAN_MAX,
}


def _known(keys: Any, valid: tuple[str, ...], what: str) -> None:
    unknown = sorted(str(k) for k in keys if k not in valid)
    if unknown:
        msg = f"unknown {what} {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}"
        raise ValueError(msg)


class BalanceOptions(BaseModel):
    """Thresholds and standards of the balance evaluation (``[balance]``).

    Each mapping is merged over its default, so a scenario names only what it changes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    quality_cv_max: dict[str, Positive] = Field(
        default_factory=lambda: dict(QUALITY_CV_MAX),
        description="优质均衡: most each indicator's weighted CV may be, per level (primary, junior)",
    )
    basic_cv_mean_max: dict[str, Positive] = Field(
        default_factory=lambda: dict(BASIC_CV_MEAN_MAX),
        description="基本均衡: most the mean of the 8 indicator CVs may be, per level (primary, junior)",
    )
    quality_standards: dict[str, dict[str, Positive]] = Field(
        default_factory=lambda: {lv: dict(std) for lv, std in QUALITY_STANDARDS.items()},
        description="优质均衡 per-school standards: level → indicator → least value (per pupil or per 100 pupils)",
    )

    @field_validator("quality_cv_max", "basic_cv_mean_max", mode="before")
    @classmethod
    def _merge_per_level(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, Mapping):
            return value  # pydantic reports the type
        _known(value, LEVELS, "level")
        return {**_PER_LEVEL_DEFAULTS[str(info.field_name)], **value}

    @field_validator("quality_standards", mode="before")
    @classmethod
    def _merge_standards(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        _known(value, LEVELS, "level")
        merged: dict[str, Any] = {lv: dict(std) for lv, std in QUALITY_STANDARDS.items()}
        for lv, std in value.items():
            if not isinstance(std, Mapping):
                merged[lv] = std  # pydantic reports the type
                continue
            _known(std, tuple(QUALITY_STANDARDS[lv]), f"{lv} indicator")
            merged[lv] = {**merged[lv], **std}
        return merged
