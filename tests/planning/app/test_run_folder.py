"""The output folder of a run: checked before computing, whole or untouched, locked, and Ctrl-C (issue 14).

In-process tests use toy stages (no solver, no files read) so that only the run folder is tested;
the Ctrl-C and two-runs tests start the real ``schoolplan`` entry point (as ``pyproject.toml``
names it) on the demo county at a small scale.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import shapely
from pydantic import BaseModel, ConfigDict

from geo.model import Inputs
from planning.app import cli
from planning.app import session as session_mod
from planning.app import stages as registry
from planning.app.session import ScenarioData
from planning.app.stage import Command, Context, Renderer, RunResult, Stage, StageOutput, StageParams

#: The checkout whose code runs (its pyproject.toml names the entry point; child processes import it).
ROOT = Path(cli.__file__).resolve().parents[2]
CRS = pyproj.CRS.from_epsg(32649)
SCHOOLS = gpd.GeoDataFrame({"school_id": ["s1"], "name": ["一小"]}, geometry=[shapely.Point(0, 0)], crs=CRS)
INPUTS = Inputs(schools=SCHOOLS, blocks=None, teachers=None, roads=None, boundary=None, metric_crs=CRS)
#: A demo small enough for a test: a few seconds of solving.
DEMO = ["demo", "--scale", "0.1", "--time-limit", "2", "--workers", "1", "--no-report"]
INTERRUPTED = "Interrupted (Ctrl-C): "
EXIT_CTRL_C = 130


# --------------------------------------------------------------------------- toy stages


def _first(ctx: Context, params: StageParams) -> StageOutput:
    return StageOutput(files={"first.csv": pd.DataFrame({"x": [1, 2]})})


def _second(ctx: Context, params: StageParams) -> StageOutput:
    return StageOutput(files={"second.json": {"moved": 3}})


def _broken(ctx: Context, params: StageParams) -> StageOutput:
    # first.csv is written, then the int payload fails: a crash in the middle of writing
    return StageOutput(files={"first.csv": pd.DataFrame({"x": [9]}), "zz.txt": 3})


class ToyReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _render(run: RunResult, params: ToyReport) -> dict[str, Any]:
    return {"report.html": f"<p>{', '.join(run.outputs)}</p>"}


def _registry(first: Any = _first) -> dict[str, Stage]:
    return {
        "first": Stage("first", StageParams, first, files=("first.csv", "zz.txt"), command=Command("first", "toy")),
        "second": Stage("second", StageParams, _second, files=("second.json",)),
    }


class Toy:
    """The toy stages installed; ``loaded`` counts the times inputs were loaded (computing started)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.monkeypatch = monkeypatch
        self.loaded: list[str] = []
        self.scenario = tmp_path / "s.toml"
        self.scenario.write_text('[inputs]\nschools = "s.gpkg"\n[first]\n[second]\n', encoding="utf-8")
        monkeypatch.setattr(registry, "STAGES", _registry())
        monkeypatch.setattr(session_mod, "renderers", lambda: {"report": Renderer("report", ToyReport, _render)})
        monkeypatch.setattr(session_mod, "load_scenario_data", self._load)

    def _load(self, scenario: Any) -> ScenarioData:
        self.loaded.append(scenario.name)
        return ScenarioData(inputs=INPUTS)

    def run(self, out: Path, *extra: str) -> int:
        return cli.main(["run", str(self.scenario), "--out", str(out), "--quiet", *extra])


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Toy:
    return Toy(monkeypatch, tmp_path)


def _no_computing(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("computing started")


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder in ``folder`` (hidden ones too), with its content's checksum."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[p.relative_to(folder).as_posix()] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# --------------------------------------------------------------------------- the real entry point


def _entry() -> list[str]:
    """``python -c`` running the ``schoolplan`` console script as pyproject.toml declares it."""
    target = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["schoolplan"]
    module, func = target.split(":")
    return [sys.executable, "-c", f"import sys; from {module} import {func} as main; sys.exit(main())"]


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """The ``schoolplan`` command in a child process that takes Ctrl-C as a terminal would deliver it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.Popen(
        [*_entry(), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - a CI shell may ignore it
    )


def _interrupt_when(proc: subprocess.Popen[str], text: str, *, timeout_s: float = 240.0) -> tuple[int, str]:
    """Send SIGINT once ``text`` appears on the child's stderr; its exit code and whole stderr."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            proc.send_signal(signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=60)
    return proc.returncode, "".join(seen) + rest


# --------------------------------------------------------------------------- case 4


@pytest.mark.parametrize("where", ["a file", "under a file"])
@pytest.mark.parametrize("command", ["run", "demo", "stage"])
def test_issue14_case4_out_that_is_a_file_or_under_one_exits_2_before_computing(
    toy: Toy, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str, command: str
) -> None:
    monkeypatch.setattr("geo.demo.build_demo", _no_computing)
    taken = tmp_path / "taken"
    taken.write_text("mine", encoding="utf-8")
    out = taken if where == "a file" else taken / "plan"
    argv = {
        "run": ["run", str(toy.scenario), "--out", str(out)],
        "demo": ["demo", "--out", str(out)],
        "stage": ["first", "--schools", "s.gpkg", "--out", str(out)],
    }[command]
    assert cli.main(argv) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err
    said = "is a file, not a folder" if where == "a file" else f"cannot be created: {taken} is a file"
    assert f"output folder {out}: {said}" in err
    assert toy.loaded == [] and taken.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml", "taken"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_issue14_case4_read_only_out_exits_2_before_computing(toy: Toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert toy.run(locked) == cli.EXIT_INPUT
        assert toy.run(locked / "plan") == cli.EXIT_INPUT
    finally:
        locked.chmod(0o755)
    err = capsys.readouterr().err
    assert f"output folder {locked}: is not writable" in err
    assert f"output folder {locked / 'plan'}: cannot be created: {locked} is not writable" in err
    assert toy.loaded == [] and list(locked.iterdir()) == []


# --------------------------------------------------------------------------- case 7


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["demo", "--seed", "-1"], "argument --seed: must be greater than or equal to 0, got -1"),
        (["demo", "--seed", str(2**31)], "argument --seed: must be less than 2147483648"),
        (["demo", "--seed", "1.5"], "argument --seed: must be a whole number, got '1.5'"),
        (["demo", "--scale", "0"], "argument --scale: must be a number in (0, 500], got 0"),
        (["demo", "--scale", "nan"], "argument --scale: must be a number in (0, 500], got nan"),
        (["demo", "--time-limit", "-3"], "argument --time-limit: must be greater than 0, got -3"),
        (["demo", "--time-limit", "inf"], "argument --time-limit: must be less than or equal to 86400"),
        (["demo", "--workers", "0"], "argument --workers: must be greater than or equal to 1, got 0"),
        (["run", "s.toml", "--seed", "-1"], "argument --seed: must be greater than or equal to 0, got -1"),
    ],
)
def test_issue14_case7_bad_seed_scale_or_limit_exits_2_from_the_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], says: str
) -> None:
    monkeypatch.setattr("geo.demo.build_demo", _no_computing)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        cli.main([*args, "--out", str(out)])
    assert exc.value.code == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not out.exists()


def _wait_until_loading_numpy(proc: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    """Return once the child has mapped numpy's core library: its heavy imports have begun, under any load.

    A fixed sleep sent the signal before the interpreter had even started on a loaded machine; what
    the test is about is a Ctrl-C while the command line's modules load.
    """
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if "_multiarray_umath" in maps.read_text(errors="replace"):
                return
        except OSError:  # not there yet, or the child has just ended
            pass
        time.sleep(0.005)
    pytest.fail("the child never began loading numpy")


def test_issue14_case7_ctrl_c_during_start_up_exits_130_with_one_line(tmp_path: Path) -> None:
    proc = _spawn([*DEMO, "--out", str(tmp_path / "out")], cwd=tmp_path)
    _wait_until_loading_numpy(proc)  # still loading numpy, geopandas and OR-Tools
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_CTRL_C, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines() == [f"{INTERRUPTED}stopped; nothing was written (the output folder is as it was)."]
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- case 10


def test_issue14_case10_input_inside_out_named_like_an_output_is_refused_before_computing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_mod, "load_scenario_data", _no_computing)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "D"
    out.mkdir()
    (out / "groups.csv").write_text("school_id,group_id,role\nS1,G1,lead\n", encoding="utf-8")  # last year's output
    (tmp_path / "schools.csv").write_text("school_id\nS1\n", encoding="utf-8")
    before = _snapshot(tmp_path)
    assert cli.main(["communities", "--schools", "schools.csv", "--groups", "D/groups.csv", "--out", "D"]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "D/groups.csv: is an input of this run, and the run writes an output of the same name there" in err
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before


def test_issue14_case10_a_users_file_named_like_an_output_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_mod, "load_scenario_data", _no_computing)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "D"
    out.mkdir()
    (out / "summary.json").write_text('{"mine": true}\n', encoding="utf-8")  # the network stage writes summary.json
    (out / "manifest.json").write_text('{"also": "mine"}\n', encoding="utf-8")  # not a schoolplan manifest
    (tmp_path / "schools.csv").write_text("school_id\nS1\n", encoding="utf-8")
    before = _snapshot(tmp_path)
    assert cli.main(["balance", "--schools", "schools.csv", "--out", "D"]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    for name in ("summary.json", "manifest.json"):
        assert f"D/{name}: would be overwritten by an output of the same name, and no earlier run wrote it" in err
    assert _snapshot(tmp_path) == before


def test_a_file_of_an_earlier_run_changed_since_is_the_users(toy: Toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert toy.run(out) == cli.EXIT_OK
    (out / "first/first.csv").write_text("x\n42\n", encoding="utf-8")  # edited by hand
    loaded = len(toy.loaded)
    assert toy.run(out) == cli.EXIT_INPUT
    assert "first/first.csv: would be overwritten" in capsys.readouterr().err
    assert len(toy.loaded) == loaded  # refused before computing
    (out / "first/first.csv").unlink()
    assert toy.run(out) == cli.EXIT_OK  # an earlier run's files, as it wrote them, are overwritten
    assert pd.read_csv(out / "first/first.csv")["x"].tolist() == [1, 2]


# --------------------------------------------------------------------------- case 11


def test_issue14_case11_a_crash_while_writing_leaves_out_as_it_was(toy: Toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert toy.run(out) == cli.EXIT_OK
    (out / "notes.txt").write_text("the planner's notes", encoding="utf-8")
    before = _snapshot(tmp_path)
    monkeypatch.setattr(registry, "STAGES", _registry(first=_broken))
    with pytest.raises(TypeError, match="cannot write a int"):
        toy.run(out)
    assert _snapshot(tmp_path) == before  # no first.csv of the new run, no temporary files, no lock


def test_issue14_case11_a_failing_demo_leaves_no_inputs_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the run failed")

    monkeypatch.setattr(cli, "run_scenario", fail)
    with pytest.raises(RuntimeError, match="the run failed"):
        cli.main([*DEMO, "--out", str(tmp_path / "out" / "demo"), "--quiet"])
    assert list(tmp_path.iterdir()) == []  # no OUT/inputs, and the folders made for it are gone too


def test_issue14_case11_a_rerun_with_fewer_stages_removes_the_old_stage_folders(toy: Toy, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert toy.run(out) == cli.EXIT_OK
    (out / "notes.txt").write_text("the planner's notes", encoding="utf-8")
    (out / "first" / "mine.csv").write_text("a\n1\n", encoding="utf-8")
    toy.scenario.write_text('[inputs]\nschools = "s.gpkg"\n[second]\n', encoding="utf-8")
    assert toy.run(out) == cli.EXIT_OK
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["outputs"]) == ["report.html", "second/second.json"]
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    # first/first.csv (written by the first run) is gone; the user's files stay
    assert left == ["first/mine.csv", "manifest.json", "notes.txt", "report.html", "second/second.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.toml"]


def test_the_demos_inputs_stay_when_a_run_reads_them_and_the_demo_can_rerun(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert cli.main([*DEMO, "--out", str(out), "--quiet"]) == cli.EXIT_OK
    first = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    generated = ("blocks.gpkg", "boundary.gpkg", "candidate_sites.csv", "roads.gpkg", "scenario.toml", "schools.gpkg", "teachers.csv")
    assert sorted(first["kept"]) == [f"inputs/{name}" for name in generated]
    assert first["scenario"] == str(out.resolve() / "inputs" / "scenario.toml")  # where it is now, not where it was made
    text = (out / "inputs" / "scenario.toml").read_text(encoding="utf-8")
    (out / "inputs" / "balance_only.toml").write_text(text[: text.index("[zones]")], encoding="utf-8")
    assert cli.main(["run", str(out / "inputs" / "balance_only.toml"), "--out", str(out), "--quiet", "--no-report"]) == cli.EXIT_OK
    assert not (out / "zones").exists() and (out / "inputs" / "scenario.toml").is_file()
    assert cli.main([*DEMO, "--out", str(out), "--quiet"]) == cli.EXIT_OK  # the demo still owns its inputs
    again = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert again["outputs"] == first["outputs"] and again["kept"] == first["kept"]


# --------------------------------------------------------------------------- case 12


def test_issue14_case12_ctrl_c_after_the_first_solve_exits_130_and_leaves_out_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the planner's notes", encoding="utf-8")
    before = _snapshot(tmp_path)
    code, err = _interrupt_when(_spawn([*DEMO, "--out", str(out)], cwd=tmp_path), "stage rotation")
    assert code == EXIT_CTRL_C, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines()[-1] == f"{INTERRUPTED}stopped; nothing was written (the output folder is as it was)."
    assert _snapshot(tmp_path) == before  # no partial output, no temporary folder, no lock


LONG_SOLVE = """
import sys
from pathlib import Path
from ortools.sat.python import cp_model
from planning.app.interrupt import InterruptGuard
from planning.app.outdir import RunFolder

def report(note):
    print(f"Interrupted (Ctrl-C): {note}.", file=sys.stderr, flush=True)

with InterruptGuard(report), RunFolder(Path(sys.argv[1]), planned=["x.txt"]) as folder:
    folder.write({"x.txt": "made before the solve"})
    m = cp_model.CpModel()
    marks = [m.new_int_var(0, 200, f"m{i}") for i in range(12)]  # a Golomb ruler: minutes to prove
    m.add(marks[0] == 0)
    diffs = []
    for i in range(12):
        for j in range(i + 1, 12):
            if j == i + 1:
                m.add(marks[j] > marks[i])
            d = m.new_int_var(1, 200, f"d{i}_{j}")
            m.add(d == marks[j] - marks[i])
            diffs.append(d)
    m.add_all_different(diffs)
    m.minimize(marks[-1])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 120
    solver.parameters.num_workers = 1
    solver.parameters.catch_sigint_signal = False
    print("solving", file=sys.stderr, flush=True)
    solver.solve(m)
    folder.commit()
"""


def test_issue14_case12_ctrl_c_inside_a_long_solve_ends_promptly_and_cleans_up(tmp_path: Path) -> None:
    script = tmp_path / "long_solve.py"
    script.write_text(LONG_SOLVE, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(work / "out")], env=env, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().strip() == "solving"
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 30, "the solve ran on to its limit"
    assert proc.returncode == EXIT_CTRL_C, err
    assert err.strip().splitlines() == [f"{INTERRUPTED}stopped; nothing was written (the output folder is as it was)."]
    assert list(work.iterdir()) == []  # the temporary folder and the lock removed by the guard


def test_issue14_case12_every_cp_sat_solver_leaves_sigint_alone() -> None:
    """Each module that makes a CP-SAT solver sets ``catch_sigint_signal`` false as often as it makes one."""
    made = re.compile(r"CpSolver\(\)|ModelSolverHelper\(\"sat\"\)")
    left = re.compile(r"catch_sigint_signal\s*=\s*False|catch_sigint_signal:false")
    missing = []
    for path in sorted((ROOT / "planning").rglob("*.py")):
        code = path.read_text(encoding="utf-8")
        n = len(made.findall(code))
        if n and len(left.findall(code)) < n:
            missing.append(f"{path.relative_to(ROOT)}: {n} solver(s), {len(left.findall(code))} with catch_sigint_signal off")
    assert not missing, "\n".join(missing)


# --------------------------------------------------------------------------- case 13


def test_issue14_case13_a_second_run_into_the_same_out_is_refused_while_the_first_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    first = _spawn([*DEMO, "--out", str(out)], cwd=tmp_path)
    assert first.stderr is not None
    line = first.stderr.readline()  # the first progress line: the folder is locked by then
    assert "generating the demo county" in line, line
    assert cli.main([*DEMO, "--out", str(out), "--quiet"]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert f"output folder {out}: another schoolplan run (process {first.pid}, started " in err
    assert "is writing to this folder: wait for it to finish, or choose another --out" in err
    _, rest = first.communicate(timeout=300)
    assert first.returncode == cli.EXIT_OK, rest
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for rel, sha in {**manifest["outputs"], **manifest["kept"]}.items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha, rel
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the lock is removed at the end


@pytest.mark.filterwarnings("always")  # the note is a warning, printed by the command line
def test_issue14_case13_a_lock_left_by_a_killed_run_is_taken_over_with_a_note(
    toy: Toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    leftover = tmp_path / ".out.schoolplan-dead1234.tmp"
    leftover.mkdir()
    (leftover / "first").mkdir()
    lock = {"pid": pid, "host": socket.gethostname(), "started": "2026-09-01T08:00:00+00:00", "staging": leftover.name}
    (tmp_path / ".out.schoolplan-lock").write_text(json.dumps(lock), encoding="utf-8")
    assert toy.run(tmp_path / "out") == cli.EXIT_OK
    err = capsys.readouterr().err
    assert f"an earlier run (process {pid}, started 2026-09-01T08:00:00+00:00) stopped before it finished" in err
    assert "its lock is taken over and its unfinished files removed" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.toml"]
