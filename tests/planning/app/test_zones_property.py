"""Property: ``schoolplan zones`` on small random counties ends in exit 0, 2, 3 or 4, never a traceback.

The counties are drawn to hit the degenerate cases of issue 14: schools on one
point, blocks on one point, blocks far beyond every school, schools without
seats, levels without pupils or without schools.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.app import cli

#: A 3 × 3 grid of points about 300 m apart, and one point 53 km east of it.
GRID = [(110.100 + 0.003 * i, 37.100 + 0.003 * j) for i in range(3) for j in range(3)]
FAR = (110.700, 37.100)
POINT = st.one_of(st.sampled_from(GRID), st.just(FAR))
SCHOOL = st.tuples(POINT, st.sampled_from(["小学", "初中", "九年一贯制"]), st.sampled_from([0, 40, 900]), st.sampled_from([0, 30, 600]))
BLOCK = st.tuples(POINT, st.integers(0, 80), st.integers(0, 40))
COUNTY = st.fixed_dictionaries(
    {
        "schools": st.lists(SCHOOL, min_size=1, max_size=4),
        "blocks": st.lists(BLOCK, min_size=1, max_size=6),
        "colocated": st.booleans(),
        "flags": st.lists(
            st.sampled_from(
                [["--method", "nearest"], ["--no-contiguity"], ["--strict"], ["--level", "primary"], ["--level", "junior"],
                 ["--no-multischool"], ["--allow-overflow"], ["--no-boarding"]]
            ),
            max_size=3,
        ),
    }
)


def _write(folder: Path, county: dict) -> tuple[Path, Path]:
    schools, blocks = county["schools"], county["blocks"]
    if county["colocated"]:
        schools = [(schools[0][0], *s[1:]) for s in schools]
    s_rows = "".join(
        f"S{k},校{k},{level},城区,{cp},{cj},{x:.3f},{y:.3f}\n" for k, ((x, y), level, cp, cj) in enumerate(schools)
    )
    b_rows = "".join(f"B{i},{sp},{sj},{x:.3f},{y:.3f}\n" for i, ((x, y), sp, sj) in enumerate(blocks))
    s_path, b_path = folder / "schools.csv", folder / "blocks.csv"
    s_path.write_text("school_id,name,level,area_type,capacity_primary,capacity_junior,lon,lat\n" + s_rows, encoding="utf-8")
    b_path.write_text("block_id,students_primary,students_junior,lon,lat\n" + b_rows, encoding="utf-8")
    return s_path, b_path


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(county=COUNTY)
def test_zones_cli_never_tracebacks(county: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        s_path, b_path = _write(folder, county)
        before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (s_path, b_path)}
        argv = ["zones", "--schools", str(s_path), "--blocks", str(b_path), "--crs", "wgs84",
                "--out", str(folder / "out"), "--time-limit", "2", "--workers", "1"]
        argv += [x for flag in county["flags"] for x in flag]
        err = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            warnings.simplefilter("always")  # a warning is shown to the user, not raised
            code = cli.main(argv)
        assert code in (cli.EXIT_OK, cli.EXIT_INPUT, cli.EXIT_INFEASIBLE, cli.EXIT_SOLVER), err.getvalue()
        assert "Traceback" not in err.getvalue()
        assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (s_path, b_path)}
        if code == cli.EXIT_OK:
            assert (folder / "out" / "manifest.json").exists()
