"""Write a flight's outputs: GeoPackage layers, GeoJSON files, hotspots, report.json.

Every file is rewritten whole on each run (never appended), so ingesting the same flight
twice into the same folder leaves exactly one copy of every feature. All vector outputs are
WGS84 (EPSG:4326); native UTM coordinates are kept as ``x``/``y`` + ``crs`` attributes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry

LAYERS = ("track", "footprints", "detections", "detection_points")
GPKG_NAME = "flight.gpkg"


def _frame(
    rows: Sequence[Mapping[str, Any]], geometry: Sequence[BaseGeometry], columns: Sequence[str]
) -> Any:
    import geopandas as gpd

    data = {c: [r.get(c) for r in rows] for c in columns}
    return gpd.GeoDataFrame(data, geometry=list(geometry), crs="EPSG:4326")


def write_layers(
    out_dir: Path,
    layers: Mapping[str, tuple[list[dict[str, Any]], list[BaseGeometry], list[str]]],
    geometry_types: Mapping[str, str],
) -> dict[str, Path]:
    """Write ``layers`` (rows, geometries, columns) to ``flight.gpkg`` and ``<layer>.geojson``."""
    import pyogrio

    gpkg = out_dir / GPKG_NAME
    gpkg.unlink(missing_ok=True)
    outputs = {"gpkg": gpkg}
    for name, (rows, geoms, columns) in layers.items():
        gdf = _frame(rows, geoms, columns)
        pyogrio.write_dataframe(
            gdf, gpkg, layer=name, driver="GPKG", geometry_type=geometry_types[name], append=gpkg.exists()
        )
        gj = out_dir / f"{name}.geojson"
        gj.unlink(missing_ok=True)
        pyogrio.write_dataframe(gdf, gj, driver="GeoJSON", geometry_type=geometry_types[name])
        outputs[name] = gj
    return outputs


def write_report(path: Path, report: Mapping[str, Any]) -> Path:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(path)
    return path
