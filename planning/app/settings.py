"""The validated scenario: its sections, the base of every stage's parameters, and how pydantic errors read.

This module is the bottom of the application layer: :mod:`planning.app.stage` (what a stage sees)
and :mod:`planning.app.scenario` (reading scenario files against the stage registry) both build on it.

The ``[inputs]`` table is derived from :data:`geo.model.LAYERS`: one optional file per input layer
(the schools layer required), so a layer added there is a scenario key without a change here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from geo.errors import Problem
from geo.model import LAYERS
from geo.network import NetworkSettings
from planning.limits import DEFAULT_TIME_LIMIT_S, DEFAULT_WORKERS

#: Top-level keys that are not stage tables.
RESERVED = ("name", "seed", "inputs", "solver", "network", "report")
#: The input layer every scenario gives (:func:`geo.io.load_inputs` requires it).
REQUIRED_LAYER = "schools"


class StageParams(BaseModel):
    """Base of every stage's parameter model: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    strict: bool = Field(
        False,
        description="stop (exit 3) when a policy target cannot be met, instead of meeting it as far as possible "
        "and listing each shortfall",
    )


class InputFiles(BaseModel):
    """Input files, relative to the scenario file: one key per layer of :data:`geo.model.LAYERS`, and their CRS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    crs: str | None = Field(
        None,
        description="CRS of CSV/Excel layers and of spatial files that declare none: wgs84, cgcs2000, gcj02, bd09 or EPSG:n "
        "(not given: CSV/Excel coordinates are read as WGS84, with a warning)",
    )
    layer_crs: dict[str, str] = Field(default_factory=dict, description="per-layer CRS, overriding a file's own")

    def paths(self) -> dict[str, Path | None]:
        """Layer name → path (``None`` where not given), in :data:`geo.model.LAYERS` order."""
        return {name: getattr(self, name) for name in LAYERS}


def _inputs_section() -> type[InputFiles]:
    """``[inputs]``: :class:`InputFiles` and a file per input layer."""
    layers: dict[str, Any] = {
        name: (Path, Field(description=f"{name} layer file"))
        if name == REQUIRED_LAYER
        else (Path | None, Field(None, description=f"{name} layer file"))
        for name in LAYERS
    }
    return create_model("InputsSection", __base__=InputFiles, __module__=__name__, **layers)


if TYPE_CHECKING:
    InputsSection = InputFiles
else:
    InputsSection = _inputs_section()


class SolverSection(BaseModel):
    """Limits shared by every optimization stage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_s: float = Field(DEFAULT_TIME_LIMIT_S, gt=0, le=86_400)
    workers: int = Field(DEFAULT_WORKERS, ge=1, le=64)


class TopLevel(BaseModel):
    """Keys at the top of a scenario file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "scenario"
    seed: int = Field(0, ge=0, lt=2**31)
    inputs: InputsSection
    solver: SolverSection = SolverSection()
    network: NetworkSettings = NetworkSettings()
    report: dict[str, Any] = Field(default_factory=dict)


#: Files other offices open (``[report] exports``): KML/KMZ for 奥维互动地图 and Google Earth, GeoJSON in
#: GCJ-02 for Amap, a zipped Shapefile and a GeoPackage in CGCS2000 (EPSG:4490) for 自然资源 departments.
ExportFormat = Literal["kml", "kmz", "geojson_gcj02", "shp_cgcs2000", "gpkg_cgcs2000"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)


class ExportSettings(BaseModel):
    """``[report] exports``: which export files to write under ``exports/`` (the rest of ``[report]`` is the renderers')."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    exports: tuple[ExportFormat, ...] = Field(
        (), description=f"export files to write under exports/: any of {', '.join(EXPORT_FORMATS)}"
    )

    @field_validator("exports", mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        """A single format given as a text (``exports = "kmz"``) is a list of one."""
        return [value] if isinstance(value, str) else value

    @field_validator("exports")
    @classmethod
    def _canonical(cls, value: tuple[ExportFormat, ...]) -> tuple[ExportFormat, ...]:
        """Each format once, in the order of :data:`EXPORT_FORMATS` (so the setting's order changes no byte)."""
        return tuple(f for f in EXPORT_FORMATS if f in value)


def split_report(report: Mapping[str, Any]) -> tuple[dict[str, Any], ExportSettings]:
    """``[report]`` without ``exports`` (validated by the renderers) and the validated export settings.

    Raises
    ------
    pydantic.ValidationError
        ``exports`` is not a list of known formats.
    """
    return {k: v for k, v in report.items() if k != "exports"}, ExportSettings.model_validate(dict(report))


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name, seed, inputs, solver, network
        As in the file (paths made absolute).
    stages
        Stage name → validated parameters, in run order, enabled stages only.
    report
        Raw ``[report]`` table, validated by the renderer that uses it (``exports`` taken out).
    path
        The file it was read from, or ``None`` when built in code.
    exports
        The export files to write (``[report] exports``), in :data:`EXPORT_FORMATS` order.
    """

    name: str
    seed: int
    inputs: InputFiles
    solver: SolverSection
    network: NetworkSettings
    stages: Mapping[str, StageParams]
    report: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    exports: tuple[ExportFormat, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Resolved settings as plain data (for the manifest)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "inputs": self.inputs.model_dump(mode="json"),
            "solver": self.solver.model_dump(mode="json"),
            "network": self.network.model_dump(mode="json"),
            "stages": {k: v.model_dump(mode="json") for k, v in self.stages.items()},
            "report": {**self.report, **({"exports": list(self.exports)} if self.exports else {})},
        }

    def strict(self) -> Scenario:
        """The same scenario with ``strict = true`` on every stage (the command line's ``--strict``)."""
        stages = {name: type(params).model_validate({**params.model_dump(), "strict": True}) for name, params in self.stages.items()}
        return replace(self, stages=stages)

    def resolve(self, path: Path) -> Path:
        """A file named in the scenario: relative paths are relative to the scenario file (else to the working folder)."""
        if path.is_absolute() or self.path is None:
            return path
        return self.path.parent / path


def problems_from(err: ValidationError, layer: str, prefix: str = "") -> list[Problem]:
    """One :class:`~geo.errors.Problem` per pydantic error, naming ``layer`` and the dotted key.

    Parameters
    ----------
    err
        The validation error.
    layer
        What the problems name as their source (the scenario file, ``"command line"``).
    prefix
        Key of the table validated (``"zones"``), put before each error's location.
    """
    out = []
    for e in err.errors():
        key = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        out.append(Problem(layer=layer, column=key or None, message=msg))
    return out
