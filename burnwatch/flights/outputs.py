"""Write a flight's outputs: GeoPackage layers, GeoJSON files, hotspots, report.json.

Every file is rewritten whole on each run (never appended), so ingesting the same flight
twice into the same folder leaves exactly one copy of every feature. Vector layers are WGS84
(EPSG:4326; GeoJSON per RFC 7946) with the native UTM coordinates as ``x``/``y`` + ``crs``
attributes; the GeoPackage also holds ``detections_utm``: the detection polygons in the flight's
local UTM CRS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from burnwatch.flights.place import PlacedDetection
from burnwatch.georef.refine import PhotoRefinement
from burnwatch.sources.drone_meta import PhotoMeta

GPKG_NAME = "flight.gpkg"


def _frame(
    rows: Sequence[Mapping[str, Any]],
    geometry: Sequence[BaseGeometry],
    columns: Sequence[str],
    crs: str = "EPSG:4326",
) -> Any:
    import geopandas as gpd
    import shapely

    data = {c: [r.get(c) for r in rows] for c in columns}
    # exterior rings counterclockwise, holes clockwise (RFC 7946 §3.1.6; GIS tools accept it)
    oriented = list(shapely.orient_polygons(list(geometry))) if geometry else []
    return gpd.GeoDataFrame(data, geometry=oriented, crs=crs)


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


#: Layer -> (geometry type, attribute columns).
SCHEMA: dict[str, tuple[str, tuple[str, ...]]] = {
    "track": ("LineString", ("flight_id", "source", "points")),
    "footprints": (
        "Polygon",
        (
            "flight_id",
            "photo",
            "time",
            "abs_alt_m",
            "rel_alt_m",
            "yaw_deg",
            "pitch_deg",
            "clipped",
            "intrinsics",
            "attitude",
            "d_yaw_deg",
            "d_pitch_deg",
            "d_roll_deg",
        ),
    ),
    "detections": (
        "Polygon",
        (
            "flight_id",
            "photo",
            "time",
            "class",
            "score",
            "uncertainty_m",
            "lon",
            "lat",
            "x",
            "y",
            "crs",
            "box_x1",
            "box_y1",
            "box_x2",
            "box_y2",
        ),
    ),
    "detection_points": (
        "Point",
        ("flight_id", "photo", "time", "class", "score", "uncertainty_m", "x", "y", "crs"),
    ),
}


class FlightLayers:
    """Accumulates a flight's vector features (WGS84) layer by layer, then writes them."""

    def __init__(self, flight_id: str) -> None:
        self.flight_id = flight_id
        self.rows: dict[str, list[dict[str, Any]]] = {k: [] for k in SCHEMA}
        self.geoms: dict[str, list[BaseGeometry]] = {k: [] for k in SCHEMA}
        self.native: list[BaseGeometry] = []
        self.crs: str | None = None

    def _add(self, layer: str, row: dict[str, Any], geom: BaseGeometry) -> None:
        self.rows[layer].append({"flight_id": self.flight_id, **row})
        self.geoms[layer].append(geom)

    def add_footprint(
        self,
        meta: PhotoMeta,
        when: datetime,
        clipped: bool,
        intrinsics: str,
        poly: Polygon,
        refined: PhotoRefinement | None = None,
    ) -> None:
        """``yaw_deg``/``pitch_deg`` are the gimbal tags; ``attitude`` says whether the footprint
        used them or the tie-point refined attitude (tags + ``d_*_deg``)."""
        self._add(
            "footprints",
            {
                "photo": meta.name,
                "time": when,  # a DateTime field in the GeoPackage (UTC), ISO 8601 in GeoJSON
                "abs_alt_m": meta.abs_alt,
                "rel_alt_m": meta.rel_alt,
                "yaw_deg": meta.camera_yaw,
                "pitch_deg": meta.gimbal_pitch,
                "clipped": clipped,
                "intrinsics": intrinsics,
                "attitude": "tie-point refined" if refined else "gimbal tags",
                "d_yaw_deg": round(refined.d_yaw_deg, 3) if refined else 0.0,
                "d_pitch_deg": round(refined.d_pitch_deg, 3) if refined else 0.0,
                "d_roll_deg": round(refined.d_roll_deg, 3) if refined else 0.0,
            },
            poly,
        )

    def add_detection(self, photo: str, pd: PlacedDetection, crs: str) -> None:
        b = pd.detection.box
        row = {
            "photo": photo,
            "time": pd.hotspot.time,
            "class": pd.detection.class_name,
            "score": round(pd.detection.score, 4),
            "uncertainty_m": pd.hotspot.uncertainty_m,
            "lon": pd.lon,
            "lat": pd.lat,
            "x": pd.x,
            "y": pd.y,
            "crs": crs,
            "box_x1": b.x1,
            "box_y1": b.y1,
            "box_x2": b.x2,
            "box_y2": b.y2,
        }
        self._add("detections", row, pd.polygon)
        self.native.append(pd.polygon_native)
        self.crs = crs
        self._add("detection_points", row, Point(pd.lon, pd.lat))

    def add_track(self, lonlat: list[tuple[float, float]], source: str) -> None:
        if len(lonlat) >= 2:
            self._add("track", {"source": source, "points": len(lonlat)}, LineString(lonlat))

    def write(self, out_dir: Path) -> dict[str, Path]:
        import pyogrio

        layers = {k: (self.rows[k], self.geoms[k], list(SCHEMA[k][1])) for k in SCHEMA}
        outputs = write_layers(out_dir, layers, {k: v[0] for k, v in SCHEMA.items()})
        if self.crs is not None:
            native = _frame(self.rows["detections"], self.native, SCHEMA["detections"][1], crs=self.crs)
            pyogrio.write_dataframe(
                native,
                outputs["gpkg"],
                layer="detections_utm",
                driver="GPKG",
                geometry_type="Polygon",
                append=True,
            )
        return outputs


def write_report(path: Path, report: Mapping[str, Any]) -> Path:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(path)
    return path
