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
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shapely import STRtree
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from burnwatch.errors import CorruptFileError, CRSError, InputError

log = logging.getLogger(__name__)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


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
        units, geoms = [], []
        for _, row in frame.iterrows():
            geom = row.geometry
            if geom is None or geom.is_empty:
                continue
            name = row[name_field]
            if name is None:
                continue
            code = row[code_field] if code_field else None
            units.append(AdminUnit(nfc(str(name)), None if code is None else str(code), level))
            geoms.append(geom if geom.is_valid else geom.buffer(0))
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
