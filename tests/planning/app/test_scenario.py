"""Scenario files: every problem reported at once, paths resolved, stages validated."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from geo.errors import InputError
from geo.validate import InputWarning
from planning.app import stages as registry
from planning.app.scenario import load_scenario, scenario_from_dict
from planning.app.stage import Stage, StageOutput, StageParams


class ToyParams(StageParams):
    weight: float = 1.0
    level: str = "primary"
    groups: Path | None = None


TOY = Stage(name="toy", params=ToyParams, run=lambda ctx, p: StageOutput(files={}), needs=("schools", "blocks"))


@pytest.fixture(autouse=True)
def toy_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "STAGES", {**registry.STAGES, "toy": TOY})


def test_minimal_scenario_resolves_paths(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('seed = 7\n[inputs]\nschools = "schools.gpkg"\nblocks = "b.csv"\n[toy]\nweight = 2.5\n', encoding="utf-8")
    s = load_scenario(f)
    assert s.seed == 7
    assert s.inputs.schools == tmp_path / "schools.gpkg"
    assert s.inputs.blocks == tmp_path / "b.csv"
    assert s.stages["toy"].weight == 2.5
    assert s.stages["toy"].groups is None
    assert s.path == f.resolve()
    assert s.to_dict()["stages"]["toy"]["weight"] == 2.5


def test_stage_file_parameters_relative_to_scenario(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[inputs]\nschools = "s.gpkg"\nblocks = "b.gpkg"\n[toy]\ngroups = "g/groups.csv"\n', encoding="utf-8")
    assert load_scenario(f).stages["toy"].groups == tmp_path / "g/groups.csv"


def test_every_problem_reported_at_once() -> None:
    data = {
        "seed": -1,
        "colour": "blue",
        "inputs": {"schools": "s.gpkg", "typo": 1},
        "solver": {"time_limit_s": 0},
        "toy": {"weight": "heavy", "unknown": True},
    }
    with pytest.raises(InputError) as info:
        scenario_from_dict(data, source="plan.toml")
    text = str(info.value)
    for fragment in ("'seed'", "'colour'", "inputs.typo", "solver.time_limit_s", "toy.weight", "toy.unknown"):
        assert fragment in text
    assert all(p.layer == "plan.toml" for p in info.value.problems)
    assert len(info.value.problems) >= 6
    assert "unknown key" in text


def test_stage_needs_its_layers() -> None:
    with pytest.raises(InputError, match=r"'inputs.blocks': stage 'toy' needs the blocks layer"):
        scenario_from_dict({"inputs": {"schools": "s.gpkg"}, "toy": {}})


def test_disabled_stage_is_not_run() -> None:
    s = scenario_from_dict({"inputs": {"schools": "s.gpkg"}, "toy": {"enabled": False}})
    assert "toy" not in s.stages


def test_missing_inputs_table() -> None:
    with pytest.raises(InputError, match=r"'inputs'.*required key is missing"):
        scenario_from_dict({"seed": 1})


def test_stage_must_be_table() -> None:
    with pytest.raises(InputError, match=r"'toy'.*must be a table"):
        scenario_from_dict({"inputs": {"schools": "s.gpkg", "blocks": "b.gpkg"}, "toy": 3})


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read scenario file"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.toml.*not valid TOML"):
        load_scenario(bad)


# --- issue 14: scenario files as Windows tools save them ----------------------------------------------

SCENARIO_ZH = 'name = "清涧县 2026"\nseed = 7\n\n[inputs]\nschools = "学校.gpkg"\nblocks = "小区.gpkg"\n\n[toy]\nlevel = "junior"\n'


def test_issue14_case6_scenario_with_utf8_bom_is_read_silently(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_bytes(SCENARIO_ZH.encode("utf-8-sig"))  # Notepad's "UTF-8 with BOM"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = load_scenario(f)
    assert s.name == "清涧县 2026" and s.inputs.schools == tmp_path / "学校.gpkg"


@pytest.mark.parametrize(("encoding", "named"), [("gbk", "GBK/GB18030"), ("gb18030", "GBK/GB18030"), ("utf-16", "UTF-16")])
def test_issue14_case6_scenario_saved_in_gbk_is_read_with_a_warning(tmp_path: Path, encoding: str, named: str) -> None:
    f = tmp_path / "s.toml"
    f.write_bytes(SCENARIO_ZH.encode(encoding))  # Notepad's "ANSI" on Chinese Windows, or "Unicode"
    with pytest.warns(InputWarning, match=rf"s\.toml: read as {named} text; TOML files are UTF-8.*save it as UTF-8"):
        s = load_scenario(f)
    assert s.name == "清涧县 2026" and s.inputs.blocks == tmp_path / "小区.gpkg" and s.stages["toy"].level == "junior"


def test_scenario_file_that_is_not_text(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(InputError, match=r"s\.toml: cannot read scenario file: is a binary file, not text"):
        load_scenario(f)
    f.write_bytes(b"name = \"\x81\"\n")  # neither UTF-8 nor GB18030
    with pytest.raises(InputError, match=r"s\.toml: cannot read scenario file: cannot decode the text; save it as UTF-8"):
        load_scenario(f)
    with pytest.raises(InputError, match=r"cannot read scenario file: is a folder, not a file"):
        load_scenario(tmp_path)
