"""Sweeps on a real Dask cluster (a LocalCluster of two worker processes, reached by its address as
``--scheduler`` would): three small demo counties and a 2×2 grid, each run byte-identical to the same
run on its own; a failing run recorded while the others finish; a resumed sweep skips finished runs.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from planning.app import cli
from planning.app.settings import SolverSection
from planning.app.sweep import DemoMaker, load_sweep
from planning.app.sweep_engine import SweepOptions, run_sweep
from planning.app.sweep_summary import headline
from planning.app.writer import MANIFEST

pytestmark = pytest.mark.slow

DEMO = DemoMaker(scenario=cli.demo_scenario_dict, inputs=cli.demo_inputs)
COUNTIES = ["610830", "610831", "610826"]  # 清涧县, 子洲县, 绥德县
SCALE = 0.1
SEED = 11
#: Long enough that the zones' deterministic work budget, not their wall-clock cap (the limit from the
#: stage's start), ends the search even on a loaded machine: byte-identical runs need that.
TIME_LIMIT = 4.0
#: ``[set]`` lines that switch off the stages a test asserts nothing about (each run is then a few seconds
#: shorter): the first test compares every stage, swept and alone.
_ONLY_ZONES = '"rotation.enabled" = false\n"improve.enabled" = false\n"layout.enabled" = false\n'
_NO_IMPROVE = '"improve.enabled" = false\n"layout.enabled" = false\n'
#: Manifest content that differs between two identical runs (writer.py): when, how long; and the
#: scenario file's path (a run alone reads the swept run's own).
_VARYING = ("created", "timings_s", "scenario")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    ) as cluster:
        yield cluster.scheduler_address


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _comparable_manifest(folder: Path) -> dict[str, Any]:
    """The manifest without what differs between identical runs (time, timings, solve times, the folder's path)."""
    text = (folder / MANIFEST).read_text(encoding="utf-8").replace(str(folder), "<out>")
    data = json.loads(text)
    for key in _VARYING:
        data.pop(key)

    def drop_times(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: drop_times(v) for k, v in obj.items() if k not in ("solve_s", "solve_time_s")}
        return obj

    data["stage_metrics"] = drop_times(data["stage_metrics"])
    data.pop("kept", None)
    data["parameters"]["solver"].pop("workers")
    data["parameters"]["network"].pop("workers")
    return data


def _assert_same_run(swept: Path, alone: Path, *, skip: tuple[str, ...] = ()) -> None:
    a, b = _files(swept), _files(alone)
    assert sorted(set(a) - set(skip)) == sorted(set(b) - set(skip))
    differ = [name for name in a if name not in (MANIFEST, *skip) and a[name] != b[name]]
    assert not differ
    assert _comparable_manifest(swept) == _comparable_manifest(alone)


def _group_gone(pgid: int, within_s: float) -> bool:
    """Whether every process of the group has ended (the resource tracker ends a moment after its parent)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _summary(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "summary.csv", dtype={"county_code": str}, encoding="utf-8-sig")


def test_three_demo_counties_each_as_schoolplan_demo_makes_it(scheduler: str, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.toml"
    text = f'counties = {json.dumps(COUNTIES)}\nscale = {SCALE}\nseed = {SEED}\n[set]\n"solver.time_limit_s" = {TIME_LIMIT}\n'
    sweep.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = run_sweep(load_sweep(sweep, DEMO), out, options=SweepOptions(scheduler=scheduler), demo=DEMO)
    assert result.threads == 1  # two task slots on a machine of at most two cores
    assert {o.status for o in result.outcomes.values()} == {"ok"}
    assert len({o.worker for o in result.outcomes.values()}) == 2  # both worker processes ran runs
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(COUNTIES)  # no temporary folder or lock left

    alone = tmp_path / "alone"
    argv = ["demo", "--county", "610830", "--scale", str(SCALE), "--seed", str(SEED), "--time-limit", str(TIME_LIMIT), "--workers", "1"]
    assert cli.main([*argv, "--out", str(alone), "--quiet"]) == 0
    swept = out / "runs" / "610830"
    _assert_same_run(swept, alone, skip=("inputs/scenario.toml",))
    scenarios = [tomllib.loads((f / "inputs" / "scenario.toml").read_text(encoding="utf-8")) for f in (swept, alone)]
    assert scenarios[0].pop("network") == {"workers": 1}  # one process per run: the sweep runs them side by side
    assert scenarios[0] == scenarios[1]

    table = _summary(out)
    assert list(table["run_id"].astype(str)) == COUNTIES
    assert list(table["county_name"]) == ["清涧县", "子洲县", "绥德县"]
    metrics = json.loads((alone / MANIFEST).read_text(encoding="utf-8"))["stage_metrics"]
    row = table.iloc[0]
    assert row["moved_primary"] == metrics["zones"]["primary"]["moved_students"]
    assert row["mean_travel_junior_s"] == pytest.approx(metrics["zones"]["junior"]["mean_travel_s"])
    assert row["quality_cvs_passing_primary"] == metrics["balance"]["primary"]["quality_cvs_passing"]
    assert row["rotation_movers"] == metrics["rotation"]["movers"]
    expected = headline(metrics)
    assert {k: row[k] for k in ("moved_total", "unserved_primary", "rotation_quotas_met", "balance_status")} == {
        k: expected[k] for k in ("moved_total", "unserved_primary", "rotation_quotas_met", "balance_status")
    }
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 5  # the province map and the charts
    assert "清涧县" in page and "各县义务教育均衡状态" in page


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("base")
    _, path = cli.write_demo_inputs(folder, county="610830", scale=SCALE, seed=SEED, solver=SolverSection(time_limit_s=TIME_LIMIT, workers=1))
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["report"]["exports"]  # left on in the grid: every export a run writes is compared (the demo test compares the documents)
    return path


def test_a_2x2_grid_each_run_as_schoolplan_run_makes_it(scheduler: str, base: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f'base = "{base}"\n[set]\n"report.documents" = false\n{_NO_IMPROVE}'
        '[grid]\n"zones.max_moved" = [250, 5000]\n"rotation.min_share" = [0.1, 0.2]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_sweep(load_sweep(sweep), out, options=SweepOptions(scheduler=scheduler))
    ids = ["zones.max_moved=250,rotation.min_share=0.1", "zones.max_moved=250,rotation.min_share=0.2",
           "zones.max_moved=5000,rotation.min_share=0.1", "zones.max_moved=5000,rotation.min_share=0.2"]
    assert list(result.outcomes) == ids
    assert {o.status for o in result.outcomes.values()} == {"ok"}
    table = _summary(out)
    assert list(table["zones.max_moved"]) == [250, 250, 5000, 5000]
    assert list(table["rotation.min_share"]) == [0.1, 0.2, 0.1, 0.2]
    assert (table["moved_primary"].iloc[:2] <= 250).all()  # the cap holds where it binds
    assert table["moved_total"].iloc[2] > 250

    swept = out / "runs" / ids[0]
    alone = tmp_path / "alone"
    assert cli.main(["run", str(swept / "inputs" / "scenario.toml"), "--out", str(alone), "--quiet"]) == 0
    _assert_same_run(swept, alone, skip=("inputs/scenario.toml",))
    row = table.iloc[0]
    metrics = json.loads((alone / MANIFEST).read_text(encoding="utf-8"))["stage_metrics"]
    assert row["moved_primary"] == metrics["zones"]["primary"]["moved_students"]
    assert row["rotation_movers"] == metrics["rotation"]["movers"]


def test_a_failing_run_is_recorded_the_others_finish_and_a_resumed_sweep_skips_finished_runs(
    scheduler: str, base: Path, tmp_path: Path
) -> None:
    text = base.read_text(encoding="utf-8")
    for layer in ("blocks.gpkg", "boundary.gpkg", "roads.gpkg", "schools.gpkg", "teachers.csv", "candidate_sites.csv"):
        text = text.replace(f'"{layer}"', f'"{base.parent / layer}"')
    (tmp_path / "good.toml").write_text(text, encoding="utf-8")
    (tmp_path / "broken.toml").write_text(text.replace("schools.gpkg", "nope.gpkg"), encoding="utf-8")
    sweep = tmp_path / "sweep.toml"
    lines = f'scenarios = ["good.toml", "broken.toml"]\n[set]\n"report.exports" = []\n"report.documents" = false\n{_ONLY_ZONES}'
    sweep.write_text(lines, encoding="utf-8")
    out = tmp_path / "out"
    first = run_sweep(load_sweep(sweep), out, options=SweepOptions(scheduler=scheduler))
    assert first.outcomes["good"].status == "ok"
    broken = first.outcomes["broken"]
    assert (broken.status, broken.exit_code) == ("input", 2)
    assert "nope.gpkg" in broken.message
    assert not (out / "runs" / "broken").exists()  # nothing written for it
    table = _summary(out)
    assert list(table["status"]) == ["ok", "input"]
    assert "nope.gpkg" in table["message"].iloc[1]

    manifest = out / "runs" / "good" / MANIFEST
    written = manifest.stat().st_mtime_ns
    again = run_sweep(load_sweep(sweep), out, options=SweepOptions(scheduler=scheduler))
    assert again.outcomes["good"].skipped
    assert not again.outcomes["broken"].skipped  # a run that wrote nothing is tried again
    assert manifest.stat().st_mtime_ns == written
    assert _summary(out).equals(table)

    (out / "runs" / "good" / "zones" / "feeder.csv").unlink()
    third = run_sweep(load_sweep(sweep), out, options=SweepOptions(scheduler=scheduler))
    assert not third.outcomes["good"].skipped  # a damaged run folder is run again
    assert third.outcomes["good"].status == "ok"


def test_ctrl_c_stops_the_cluster_keeps_finished_runs_and_leaves_no_process_or_temporary_file(tmp_path: Path) -> None:
    counties = [*COUNTIES, "610827", "610828", "610829"]
    sweep = tmp_path / "sweep.toml"
    text = f'counties = {json.dumps(counties)}\nscale = {SCALE}\nseed = {SEED}\n[set]\n"solver.time_limit_s" = {TIME_LIMIT}\n'
    sweep.write_text(text + '"report.documents" = false\n' + _ONLY_ZONES, encoding="utf-8")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "planning.app.cli", "sweep", str(sweep), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while not any((d / MANIFEST).exists() for d in (out / "runs").glob("*")) and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole process group, workers included
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Interrupted (Ctrl-C)" in stderr and "resume" in stderr
    assert "Traceback" not in stderr + stdout
    assert _group_gone(proc.pid, within_s=15)  # no worker process is left behind
    runs = sorted((out / "runs").iterdir())
    assert runs and all((d / MANIFEST).exists() for d in runs)  # finished runs only: no temporary folder, no lock
    assert not [p for p in tmp_path.rglob(".*") if "schoolplan" in p.name]
    table = _summary(out)
    assert len(table) == len(counties)
    assert set(table.loc[table["status"] == "ok", "run_id"].astype(str)) == {d.name for d in runs}
    assert "not run" in set(table["status"])
