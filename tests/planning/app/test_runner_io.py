"""Output writers: formats by suffix, byte-identical reruns, atomic writes."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planning.app.writer import excel_bytes, to_json_bytes, write_files

FRAME = pd.DataFrame({"block_id": ["b2", "b1"], "name": ["东关社区", "王家村"], "travel_s": [61, np.int64(5)]})
GEO = gpd.GeoDataFrame(
    {"school_id": ["s1", "s2"], "utilization": [0.5, 1.25]},
    geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
    crs=32649,
)


def _files() -> dict:
    return {
        "a/assignment.csv": FRAME,
        "a/zones.gpkg": GEO,
        "a/metrics.json": {"gap": np.float64(0.001), "status": "OPTIMAL", "n": np.int32(3), "bad": float("nan")},
        "report.xlsx": {"assignment": FRAME, "zones": GEO},
        "map.html": "<html>地图</html>",
        "raw.bin": b"\x00\x01",
    }


def test_formats_by_suffix(tmp_path: Path) -> None:
    written = write_files(tmp_path, _files())
    assert [p.relative_to(tmp_path).as_posix() for p in written] == sorted(_files())
    csv = (tmp_path / "a/assignment.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens Chinese correctly
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a/assignment.csv", encoding="utf-8-sig"), FRAME.astype({"travel_s": "int64"}))
    zones = gpd.read_file(tmp_path / "a/zones.gpkg")
    assert zones.crs.to_epsg() == 32649
    assert list(zones["school_id"]) == ["s1", "s2"]
    metrics = json.loads((tmp_path / "a/metrics.json").read_text(encoding="utf-8"))
    assert metrics == {"bad": None, "gap": 0.001, "n": 3, "status": "OPTIMAL"}
    wb = pd.read_excel(tmp_path / "report.xlsx", sheet_name=None)
    assert set(wb) == {"assignment", "zones"}
    assert "geometry" not in wb["zones"].columns
    assert (tmp_path / "map.html").read_text(encoding="utf-8") == "<html>地图</html>"
    assert (tmp_path / "raw.bin").read_bytes() == b"\x00\x01"
    assert not list(tmp_path.rglob("*.tmp*")), "no temporary files left behind"
    mode = (tmp_path / "map.html").stat().st_mode & 0o777
    assert mode & 0o044 == 0o044, f"outputs readable by others, got {oct(mode)}"


def test_rerun_is_byte_identical(tmp_path: Path) -> None:
    write_files(tmp_path / "one", _files())
    time.sleep(1.1)  # a timestamp would differ now
    write_files(tmp_path / "two", _files())
    for p in sorted((tmp_path / "one").rglob("*")):
        if p.is_file():
            q = tmp_path / "two" / p.relative_to(tmp_path / "one")
            assert p.read_bytes() == q.read_bytes(), p.name


def test_excel_zip_entries_have_fixed_dates() -> None:
    data = excel_bytes({"t": FRAME})
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_json_is_sorted_and_rejects_unknown_objects() -> None:
    assert to_json_bytes({"b": 1, "a": [np.bool_(True)]}) == b'{\n  "a": [\n    true\n  ],\n  "b": 1\n}\n'
    with pytest.raises(TypeError, match="cannot write object to JSON"):
        to_json_bytes({"x": object()})


def test_wrong_payload_type(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"zones.gpkg: a .gpkg payload must be a GeoDataFrame"):
        write_files(tmp_path, {"zones.gpkg": FRAME})
    with pytest.raises(TypeError, match=r"x\.txt: cannot write a int"):
        write_files(tmp_path, {"x.txt": 3})
