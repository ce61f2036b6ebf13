"""The README's scenario example, pointed at the demo's inputs, validates and runs (exit 0)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import tomli_w

from planning.app import cli
from planning.app.settings import SolverSection

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_scenario() -> dict:
    """The TOML example of the README's "Scenario files" section, parsed."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Scenario files") : text.index("## Command line")]
    found = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert found, "the Scenario files section has a TOML example"
    return tomllib.loads(found.group(1))


@pytest.fixture(scope="module")
def readme_on_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README example with the demo's ``[inputs]`` (清涧县, scale 1), written beside the demo's inputs."""
    out = tmp_path_factory.mktemp("readme")
    _, demo_path = cli.write_demo_inputs(out, county="610830", scale=1.0, seed=20260901, solver=SolverSection(time_limit_s=5))
    data = readme_scenario()
    data["inputs"] = tomllib.loads(demo_path.read_text(encoding="utf-8"))["inputs"]
    path = demo_path.parent / "readme.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def test_example_names_every_stage_and_its_settings() -> None:
    data = readme_scenario()
    assert {"zones", "balance", "communities", "rotation", "report"} <= set(data)
    assert data["zones"]["max_moved"] >= 1021  # fewer is infeasible on the demo: its county-seat schools are full


def test_example_validates_on_the_demo(readme_on_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(readme_on_demo)]) == cli.EXIT_OK
    assert "stages: network, balance, zones, communities, rotation" in capsys.readouterr().out


@pytest.mark.slow
def test_example_runs_on_the_demo(readme_on_demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", str(readme_on_demo), "--out", str(out), "--no-report", "--quiet", "--time-limit", "5"]) == cli.EXIT_OK
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["stages"].values()) == {"finished"} and manifest["failed"] is None
    cap = readme_scenario()["zones"]["max_moved"]
    for level in ("primary", "junior"):
        metrics = json.loads((out / f"zones/{level}/metrics.json").read_text(encoding="utf-8"))
        assert metrics["plan"]["moved_students"] <= cap
