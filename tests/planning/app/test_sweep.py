"""Sweep files: runs, run ids, each run's scenario, and the summary's figures (no cluster here).

The runs on a real Dask cluster are in ``test_sweep_cluster.py``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from geo.errors import InputError
from planning.app import cli
from planning.app.sweep import DemoMaker, RunSpec, grid_points, load_sweep, run_id, run_scenario_data
from planning.app.sweep_engine import SweepOptions, run_sweep, threads_per_run
from planning.app.sweep_summary import balance_status, headline

DEMO = DemoMaker(scenario=cli.demo_scenario_dict, inputs=cli.demo_inputs)

BASE = """
name = "base"
seed = 7
[inputs]
schools = "in/schools.gpkg"
blocks = "in/blocks.gpkg"
[solver]
time_limit_s = 5
workers = 4
[zones]
levels = ["primary"]
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_grid_runs_the_product_first_key_slowest_with_readable_ids(tmp_path: Path) -> None:
    _write(tmp_path, "scenario.toml", BASE)
    sweep = _write(tmp_path, "sweep.toml", 'base = "scenario.toml"\n[grid]\n"zones.max_moved" = [300, 1000]\n"seed" = [1, 2]\n')
    plan = load_sweep(sweep)
    assert [r.run_id for r in plan.runs] == [
        "zones.max_moved=300,seed=1", "zones.max_moved=300,seed=2", "zones.max_moved=1000,seed=1", "zones.max_moved=1000,seed=2",
    ]
    assert plan.grid_keys == ("zones.max_moved", "seed")
    assert len({r.key for r in plan.runs}) == 4
    assert grid_points({}) == [()]
    assert run_id("610830", [("rotation.sending_area_types", ["urban", "town"]), ("zones.boarding", True)]) == (
        "610830,rotation.sending_area_types=urban+town,zones.boarding=true"
    )
    assert run_id("", [("report.title", "县 a/b")]) == "report.title=县_a_b"


def test_a_run_scenario_has_absolute_paths_the_grid_point_and_at_most_the_threads_given(tmp_path: Path) -> None:
    base = _write(tmp_path, "scenario.toml", BASE)
    spec = RunSpec("r", scenario=base, grid=(("zones.max_moved", 300),), fixed=(("solver.time_limit_s", 2),), threads=1)
    data = run_scenario_data(spec)
    assert data["inputs"]["schools"] == str(tmp_path / "in" / "schools.gpkg")
    assert data["zones"] == {"levels": ["primary"], "max_moved": 300}
    assert data["solver"] == {"time_limit_s": 2, "workers": 1}
    assert data["network"] == {"workers": 1}
    many = run_scenario_data(RunSpec("r", scenario=base, threads=8))
    assert many["solver"]["workers"] == 4  # never more than the scenario asks
    assert "network" not in many  # its default (2) is within 8


def test_a_demo_county_run_reads_its_generated_inputs_beside_its_scenario(tmp_path: Path) -> None:
    demo = cli.demo_scenario_dict(5, 30.0, 2)
    data = run_scenario_data(RunSpec("610830", county="610830", threads=2), demo)
    assert data["inputs"]["schools"] == "schools.gpkg"
    assert data == demo  # nothing changed: the demo's own scenario, byte for byte once written


def test_counties_by_code_name_and_province(tmp_path: Path) -> None:
    sweep = _write(tmp_path, "sweep.toml", 'counties = ["610830", "子洲县", "61"]\nscale = 0.2\n')
    plan = load_sweep(sweep, DEMO)
    codes = [r.county for r in plan.runs]
    assert codes[:2] == ["610830", "610831"]
    assert len(codes) == 107  # 陕西: every county of the installed outlines, each once
    assert all(c.startswith("61") for c in codes)
    assert plan.runs[1].county_name == "子洲县"
    assert plan.counties


def test_every_problem_of_a_sweep_file_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "scenario.toml", BASE)
    sweep = _write(
        tmp_path, "sweep.toml",
        'base = "scenario.toml"\ncounties = ["610830", "Atlantis"]\n[grid]\n"zones.max_moved" = [-5]\n"zones.colour" = [1]\n',
    )
    with pytest.raises(InputError, match="Atlantis") as info:
        load_sweep(sweep, DEMO)
    assert all(str(sweep) in p.layer for p in info.value.problems)
    sweep = _write(tmp_path, "sweep.toml", 'base = "scenario.toml"\n[grid]\n"zones.max_moved" = [-5, 10]\n"zones.colour" = [1]\n')
    with pytest.raises(InputError) as info:
        load_sweep(sweep)
    text = "\n".join(map(str, info.value.problems))
    assert "zones.max_moved" in text
    assert "zones.colour" in text
    assert "unknown key" in text
    assert len(info.value.problems) == 2  # each told once, not once per run


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('counties = ["610830"]\nscenarios = ["a.toml"]\n', "not both"),
        ('base = "scenario.toml"\nscenarios = ["a.toml"]\n', "not both"),
        ("scale = 2\n", "name what to run"),
        ('base = "scenario.toml"\n[grid]\n"zones.max_moved" = []\n', "at least one value"),
        ('base = "missing.toml"\n', "not found"),
        ('base = "scenario.toml"\nworkers = 3\n', "unknown key"),
        ('counties = ["99"]\n', "no county"),
        ("base = \n", "not valid TOML"),
    ],
)
def test_bad_sweep_files(tmp_path: Path, text: str, match: str) -> None:
    _write(tmp_path, "scenario.toml", BASE)
    with pytest.raises(InputError, match=match):
        load_sweep(_write(tmp_path, "sweep.toml", text), DEMO)


def test_scenario_files_are_named_by_stem_or_path_when_stems_repeat(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        _write(tmp_path / name, "scenario.toml", BASE)
    plan = load_sweep(_write(tmp_path, "sweep.toml", 'scenarios = ["a/scenario.toml", "b/scenario.toml"]\n'))
    assert [r.run_id for r in plan.runs] == ["a_scenario", "b_scenario"]
    assert set(plan.files) == {tmp_path / "sweep.toml", tmp_path / "a" / "scenario.toml", tmp_path / "b" / "scenario.toml"}


def test_threads_per_run_keeps_workers_times_threads_within_each_machine() -> None:
    one = {"a": {"host": "m", "nthreads": 1}, "b": {"host": "m", "nthreads": 1}}
    assert threads_per_run(one, {"a": 2, "b": 2}) == 1
    assert threads_per_run({"a": {"host": "m", "nthreads": 1}}, {"a": 2}) == 2
    mixed = {"a": {"host": "big", "nthreads": 4}, "b": {"host": "small", "nthreads": 2}}
    assert threads_per_run(mixed, {"a": 16, "b": 4}) == 2  # the small machine decides
    assert threads_per_run({"a": {"host": "m", "nthreads": 8}}, {"a": 4}) == 1


def test_headline_figures_and_balance_status() -> None:
    level = {"basic_passes": True, "quality_passes": False, "quality_cvs_passing": 5}
    metrics = {
        "zones": {"primary": {"moved_students": 10, "mean_travel_s": 600.0, "unserved_students": 1, "boarding_allowance_yuan": 1000.0}},
        "balance": {"primary": level, "junior": {**level, "quality_passes": True}},
        "rotation": {"movers": 7, "quotas_met": 2},
        "layout": {"cost_yuan": 5e6},
    }
    row = headline(metrics)
    assert row["moved_primary"] == 10
    assert row["moved_junior"] is None
    assert row["moved_total"] == 10
    assert row["quality_cvs_passing_junior"] == 5
    assert row["rotation_movers"] == 7
    assert row["layout_cost_yuan"] == 5e6
    assert row["balance_status"] == "基本均衡"
    assert balance_status({"balance": {"primary": {**level, "quality_passes": True}}}) == "优质均衡"
    assert balance_status({"balance": {"primary": {**level, "basic_passes": False}}}) == "未达基本均衡"
    assert balance_status({}) == "无结果"


def test_the_sweep_command_reports_a_bad_sweep_file_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = _write(tmp_path, "sweep.toml", 'counties = ["nowhere"]\n')
    assert cli.main(["sweep", str(sweep), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert tomllib.loads(sweep.read_text(encoding="utf-8")) == {"counties": ["nowhere"]}


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "nowhere"])
def test_a_scheduler_that_cannot_be_reached_is_bad_input_and_nothing_is_written(tmp_path: Path, address: str) -> None:
    _write(tmp_path, "scenario.toml", BASE)
    plan = load_sweep(_write(tmp_path, "sweep.toml", 'base = "scenario.toml"\n'))
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        run_sweep(plan, tmp_path / "out", options=SweepOptions(scheduler=address, connect_timeout_s=1))
    assert not (tmp_path / "out").exists()
