"""Writing outputs: payloads by file suffix, atomic writes, checksums and the manifest.

The only module that writes output files (the CLI's demo writes its generated
inputs through it too). A run writes them into the temporary folder of a
:class:`planning.app.outdir.RunFolder`, which moves them into the output folder
whole at the end. Every file is written atomically (to a temporary file
in the same folder, then renamed) and deterministically: the same payloads give
byte-identical files (CSV, GeoPackage, JSON, Excel, HTML). ``manifest.json``
records the inputs with checksums, the resolved parameters, library versions,
timings, each stage's key figures (``StageOutput.metrics``, where wall-clock
solve times belong) and the checksum of every output; ``created``,
``timings_s`` and the solve times in ``stage_metrics`` are the only content
that differs between two identical runs.

Text cells are written so that a spreadsheet shows them and never runs them
(:mod:`geo.text`): in Excel every text is a text cell, without the control
characters XML cannot hold or bidirectional controls, and one that begins like
a formula carries the quote-prefix flag; in CSV such a text gets a leading
single quote. Numbers stay numbers.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import platform
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.text import csv_text, looks_like_formula, visible
from planning.app.settings import Scenario

#: Fixed timestamp stamped into GeoPackage and Excel files so reruns are byte-identical.
FIXED_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
MANIFEST = "manifest.json"

#: Libraries whose versions go into the manifest.
_VERSIONED = ("schoolplan", "numpy", "pandas", "scipy", "shapely", "pyproj", "pyogrio", "geopandas", "ortools", "folium")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, date)):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    msg = f"cannot write {type(obj).__name__} to JSON"
    raise TypeError(msg)


def _clean_floats(obj: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by ``None``, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _clean_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_floats(v) for v in obj]
    return obj


def to_json_bytes(obj: Any) -> bytes:
    """Deterministic JSON: sorted keys, 2-space indent, UTF-8, NaN as null."""
    text = json.dumps(_clean_floats(obj), sort_keys=True, indent=2, ensure_ascii=False, default=_json_default)
    return (text + "\n").encode("utf-8")


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite a zip (xlsx) with fixed entry timestamps so it is byte-identical across runs."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def excel_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """An .xlsx workbook with one sheet per table, deterministic bytes."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, df in sheets.items():
        title = str(name)[:31] or "sheet"
        for bad in "[]:*?/\\":
            title = title.replace(bad, "_")
        base, k = title, 1
        while title in used:
            k += 1
            title = f"{base[:28]}_{k}"
        used.add(title)
        ws = wb.create_sheet(title)
        frame = _plain(df)
        _append_row(ws, [str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            _append_row(ws, row)
        for i, col in enumerate(frame.columns, start=1):
            width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(200)]) + 2
            ws.column_dimensions[get_column_letter(i)].width = min(max(width, 8), 60)
        ws.freeze_panes = "A2"
    return workbook_bytes(wb)


def workbook_bytes(wb: Any) -> bytes:
    """An openpyxl workbook as deterministic .xlsx bytes: fixed creation and modification times and zip dates."""
    from openpyxl.writer.excel import ExcelWriter  # noqa: PLC0415

    wb.properties.creator = "schoolplan"
    wb.properties.created = FIXED_TIMESTAMP.replace(tzinfo=None)
    wb.properties.modified = FIXED_TIMESTAMP.replace(tzinfo=None)
    # ExcelWriter directly: Workbook.save() would stamp the current time as "modified".
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    return _normalize_zip(buf.getvalue())


def _append_row(ws: Any, values: Iterable[Any]) -> None:
    """Append one row; every text cell stays text (openpyxl would make ``=...`` a formula, ``#N/A`` an error).

    A text that :func:`geo.text.looks_like_formula` also gets the quote-prefix flag, Excel's stored form
    of a leading apostrophe: the cell shows the text as it is and stays text when edited.
    """
    from openpyxl.cell import Cell  # noqa: PLC0415

    row: list[Any] = []
    for v in values:
        value = _excel_value(v)
        if isinstance(value, str):
            cell = Cell(ws, value=value)
            cell.data_type = "s"
            if looks_like_formula(value):
                cell.quotePrefix = True
            value = cell
        row.append(value)
    ws.append(row)


def _excel_value(v: Any) -> Any:
    """A value as openpyxl takes it: missing as empty, numpy scalars as Python ones, texts :func:`geo.text.visible`."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
    if isinstance(v, (list, tuple, dict)):
        v = json.dumps(v, ensure_ascii=False, default=_json_default)
    if isinstance(v, str):
        return visible(v)
    return v


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """The table without its geometry column (CSV and Excel carry attributes only)."""
    if isinstance(df, gpd.GeoDataFrame):
        return pd.DataFrame(df.drop(columns=df.geometry.name))
    return pd.DataFrame(df)


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with every formula-like text cell (and header) quoted by :func:`geo.text.csv_text`; numbers untouched."""
    out = frame
    for k in range(frame.shape[1]):
        s = frame.iloc[:, k]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        values = s.to_numpy(dtype=object)
        if any(isinstance(v, str) and looks_like_formula(v) for v in values):
            if out is frame:
                out = frame.copy()
            out.isetitem(k, pd.Series([csv_text(v) if isinstance(v, str) else v for v in values], index=s.index, dtype=object))
    names = [csv_text(c) if isinstance(c, str) else c for c in frame.columns]
    if names != list(frame.columns):
        out = out.set_axis(names, axis=1)
    return out


def csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a byte-order mark (so Excel shows Chinese correctly), no index, LF line ends.

    Text cells that begin like a formula get a leading single quote (:func:`geo.text.csv_text`).
    """
    text = _csv_safe(_plain(df)).to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8-sig")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_gpkg(path: Path, gdf: gpd.GeoDataFrame) -> None:
    import pyogrio  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.tmp{os.getpid()}.gpkg"
    tmp.unlink(missing_ok=True)
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        frame = gdf.reset_index(drop=True)
        frame.to_file(tmp, layer=path.stem, driver="GPKG", engine="pyogrio")
        os.replace(tmp, path)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
        tmp.unlink(missing_ok=True)


def payload_bytes(name: str, payload: Any) -> bytes:
    """Serialize one payload by its file suffix (``.gpkg`` is written by :func:`write_file`)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return csv_bytes(payload)
    if suffix == ".json":
        return to_json_bytes(payload)
    if suffix == ".xlsx":  # tables, or a workbook already built (schoolplan template), made deterministic
        return _normalize_zip(bytes(payload)) if isinstance(payload, bytes | bytearray) else excel_bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    msg = f"{name}: cannot write a {type(payload).__name__}"
    raise TypeError(msg)


def write_file(path: Path, payload: Any) -> None:
    """Write one payload atomically, format chosen by the suffix (the table in :mod:`planning.app.stage`).

    A ``.gpkg`` payload given as bytes (a GeoPackage already made, :mod:`planning.app.exports`) is written as is.
    """
    if path.suffix.lower() == ".gpkg" and not isinstance(payload, (bytes, bytearray)):
        if not isinstance(payload, gpd.GeoDataFrame):
            msg = f"{path.name}: a .gpkg payload must be a GeoDataFrame, got {type(payload).__name__}"
            raise TypeError(msg)
        _write_gpkg(path, payload)
    else:
        _atomic_write_bytes(path, payload_bytes(path.name, payload))


def write_files(out_dir: Path, files: Mapping[str, Any]) -> list[Path]:
    """Write every payload under ``out_dir``; returns the paths, sorted."""
    written = []
    for rel in sorted(files):
        path = out_dir / rel
        write_file(path, files[rel])
        written.append(path)
    return written


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in _VERSIONED:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "not installed"
    return out


def manifest(
    scenario: Scenario,
    out_dir: Path,
    written: Sequence[Path],
    timings: Mapping[str, float],
    stage_metrics: Mapping[str, Mapping[str, Any]],
    *,
    tables: Mapping[str, Path] | None = None,
    status: Mapping[str, Any] | None = None,
    kept: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The content of ``manifest.json``.

    Parameters
    ----------
    scenario
        The scenario run (its resolved parameters and input files).
    out_dir
        The output folder; output paths are recorded relative to it.
    written
        The files written.
    timings
        Step → wall time in seconds.
    stage_metrics
        Stage → its key figures.
    tables
        Table files the stages read (``"rotation.staffing_targets"`` → path), recorded with the inputs.
    status
        ``{"stages": {stage: "finished" | "failed" | "not run"}, "failed": {...} | None}``: which stages
        finished and, when one stopped the run, which and why; with ``input_warnings``, the warnings raised
        while loading the inputs (:attr:`geo.model.Inputs.notes`).
    kept
        Files an earlier run wrote in the folder that this run keeps, as inputs it reads (relative path →
        checksum); listed so that later runs still know them as the tool's (:mod:`planning.app.outdir`).
    """
    inputs = {}
    named = {**scenario.inputs.paths(), **(tables or {})}
    for layer, path in named.items():
        if path is not None and Path(path).is_file():
            inputs[layer] = {"path": str(path), "sha256": sha256_file(Path(path))}
    outputs = {str(p.relative_to(out_dir)): sha256_file(p) for p in written}
    return {
        "schoolplan": _versions()["schoolplan"],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario": str(scenario.path) if scenario.path else None,
        "parameters": scenario.to_dict(),
        "inputs": inputs,
        "outputs": outputs,
        "kept": dict(kept or {}),
        "timings_s": dict(timings),
        "stage_metrics": stage_metrics,
        "versions": _versions(),
        **({"stages": {}, "failed": None, "input_warnings": []} if status is None else dict(status)),
    }
