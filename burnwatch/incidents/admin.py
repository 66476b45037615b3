"""Attribution of incidents to administrative units (province, commune).

Boundaries come from a user-supplied vector file (GeoJSON, GeoPackage or Shapefile) with
a name field (and optionally a code field) chosen in config or on the command line, e.g.
the 34 post-2025 provinces (field ``name``). Names are NFC-normalised so Vietnamese
diacritics compare and store identically end to end ("Hưng Yên" stays "Hưng Yên").
A point just outside every polygon (coast, river mouth, generalised boundary) is given
to the nearest unit within ``tolerance_m``.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shapely import STRtree, make_valid, unary_union
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from burnwatch.errors import CorruptFileError, CRSError, InputError

log = logging.getLogger(__name__)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


#: Vietnam's mainland and islands (WGS84 lon/lat), loosely: a layer outside it is suspicious.
VIETNAM_BBOX = (102.0, 6.0, 118.0, 23.5)


def _usable_name(value: object) -> str | None:
    """The NFC-normalised text of a name/code cell; None when empty, null or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a numeric code field read as float: 33.0 -> "33"
    text = nfc(str(value))
    return text or None


def _repair(geom: BaseGeometry) -> BaseGeometry:
    """``make_valid`` keeping only the polygonal parts (a bow-tie keeps both lobes)."""
    fixed = make_valid(geom)
    if isinstance(fixed, (Polygon, MultiPolygon)):
        return fixed
    parts = [g for g in getattr(fixed, "geoms", []) if isinstance(g, (Polygon, MultiPolygon))]
    return unary_union(parts) if parts else Polygon()


def _check_lonlat(bounds: Sequence[float], path: Path) -> None:
    """Refuse a layer whose WGS84 coordinates are out of range (projected metres as degrees)."""
    x0, y0, x1, y1 = (float(b) for b in bounds)
    if any(math.isnan(b) for b in (x0, y0, x1, y1)):
        return  # no geometry at all: nothing to check
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise CRSError(
            f"coordinates look projected: wrong or missing CRS? (bounds {x0:.0f}, {y0:.0f}, "
            f"{x1:.0f}, {y1:.0f} are outside lon ±180 / lat ±90; GeoJSON without a 'crs' member "
            "is read as WGS84 degrees)",
            path=path,
        )


def _warn_outside_vietnam(bounds: Sequence[float], path: Path) -> None:
    x0, y0, x1, y1 = (float(b) for b in bounds)
    vx0, vy0, vx1, vy1 = VIETNAM_BBOX
    if x1 < vx0 or x0 > vx1 or y1 < vy0 or y0 > vy1:
        log.warning(
            "%s: boundaries (%.2f, %.2f, %.2f, %.2f) do not overlap Vietnam; "
            "hotspots in Vietnam will be outside them",
            path, x0, y0, x1, y1,
        )  # fmt: skip


@dataclass(frozen=True)
class AdminUnit:
    name: str
    code: str | None
    level: str  # "province" | "commune"


class AdminLayer:
    """One level of administrative polygons in WGS84 with a spatial index."""

    def __init__(self, units: Sequence[AdminUnit], geometries: Sequence[BaseGeometry], source: str) -> None:
        self.units = list(units)
        self.geometries = list(geometries)
        self.source = source
        self._tree = STRtree(self.geometries)

    @classmethod
    def load(
        cls,
        path: str | Path,
        name_field: str = "name",
        code_field: str | None = None,
        level: str = "province",
    ) -> AdminLayer:
        """Read a boundaries file; reproject to WGS84; fail with the file name if unusable."""
        import pyogrio

        path = Path(path)
        if not path.exists():
            raise InputError("boundaries file not found", path=path)
        try:
            frame = pyogrio.read_dataframe(path)
        except Exception as exc:
            raise CorruptFileError(f"cannot read boundaries: {exc}", path=path) from exc
        if len(frame) == 0:
            raise InputError("boundaries file has no features", path=path)
        for field_name in (name_field, code_field):
            if field_name is not None and field_name not in frame.columns:
                fields = ", ".join(c for c in frame.columns if c != "geometry")
                raise InputError(f"no field {field_name!r} (fields: {fields})", path=path)
        if frame.crs is None:
            raise CRSError("boundaries have no CRS", path=path)
        if frame.crs.to_epsg() != 4326:
            frame = frame.to_crs(4326)
        _check_lonlat(frame.total_bounds, path)
        rows = [
            (i, geom, _usable_name(name), _usable_name(code) if code_field else None)
            for i, (geom, name, code) in enumerate(
                zip(frame.geometry, frame[name_field], frame[code_field or name_field], strict=True)
            )
            if geom is not None and not geom.is_empty
        ]
        unnamed = [i for i, _, name, _ in rows if name is None]
        if unnamed:
            shown = ", ".join(str(i) for i in unnamed[:10]) + (", ..." if len(unnamed) > 10 else "")
            raise InputError(
                f"{len(unnamed)} feature(s) have no name in field {name_field!r} "
                f"(feature index, from 0: {shown}); name them or choose another name field",
                path=path,
            )
        units, geoms, repaired = [], [], 0
        for _, geom, name, code in rows:
            if not geom.is_valid:
                geom, repaired = _repair(geom), repaired + 1
            units.append(AdminUnit(name or "", code, level))
            geoms.append(geom)
        if repaired:
            log.warning("%s: repaired %d invalid polygon(s) with make_valid", path, repaired)
        _warn_outside_vietnam(frame.total_bounds, path)
        log.info("%s: %d %s boundaries", path, len(units), level)
        return cls(units, geoms, str(path))

    def locate(self, lon: float, lat: float, tolerance_m: float = 3000.0) -> AdminUnit | None:
        """The unit containing (lon, lat) WGS84, else the nearest within ``tolerance_m``."""
        point = Point(lon, lat)
        hits = self._tree.query(point, predicate="intersects")
        if len(hits):
            return self.units[int(min(hits))]
        if tolerance_m <= 0:
            return None
        tolerance_deg = tolerance_m / 111_320.0
        nearest = self._tree.query_nearest(point, max_distance=tolerance_deg)
        return self.units[int(nearest[0])] if len(nearest) else None

    def geometry_of(self, name: str) -> BaseGeometry | None:
        """The (first) polygon whose unit has this name (NFC-compared), or None."""
        key = nfc(name).casefold()
        for unit, geom in zip(self.units, self.geometries, strict=True):
            if unit.name.casefold() == key:
                return geom
        return None


class AdminAttributor:
    """Province and commune for a location; communes may come from several files."""

    def __init__(self, provinces: AdminLayer | None, communes: Sequence[AdminLayer] = ()) -> None:
        self.provinces = provinces
        self.communes = list(communes)

    @classmethod
    def from_files(
        cls,
        provinces: str | Path | None,
        province_field: str = "name",
        province_code_field: str | None = None,
        communes: Sequence[str | Path] = (),
        commune_field: str = "name",
        commune_code_field: str | None = None,
    ) -> AdminAttributor:
        prov = AdminLayer.load(provinces, province_field, province_code_field) if provinces else None
        comm = [AdminLayer.load(p, commune_field, commune_code_field, level="commune") for p in communes]
        return cls(prov, comm)

    def attribute(self, lon: float, lat: float) -> tuple[AdminUnit | None, AdminUnit | None]:
        """(province, commune) for a WGS84 point; None where no boundaries cover it."""
        province = self.provinces.locate(lon, lat) if self.provinces else None
        commune = None
        for layer in self.communes:
            commune = layer.locate(lon, lat, tolerance_m=500.0)
            if commune is not None:
                break
        return province, commune
