"""Column types that behave the same on SQLite and PostGIS.

* :class:`GeometryType` stores a shapely geometry in WGS84 (EPSG:4326). On PostgreSQL the
  column is a PostGIS ``geometry(…, 4326)`` (GIST-indexed by the migration); on SQLite it is
  the geometry's WKB in a BLOB, and spatial candidate searches use the indexed bounding-box
  / lon-lat columns next to it (see ``docs/store.md``).
* :class:`UTCDateTime` stores aware UTC datetimes and always returns aware UTC datetimes
  (SQLite has no time-zone type; its values are stored as naive UTC).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import shapely
from geoalchemy2 import Geometry  # imported eagerly: it registers DDL listeners on import
from shapely.geometry.base import BaseGeometry
from sqlalchemy import DateTime, LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class GeometryType(TypeDecorator[BaseGeometry]):
    """A WGS84 shapely geometry: PostGIS ``geometry`` or SQLite WKB BLOB."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        super().__init__()
        self.geometry_type = geometry_type
        # Attributes geoalchemy2's DDL listeners read from any geometry-like column type.
        self.srid = 4326
        self.dimension = 2
        self.spatial_index = False  # the migration creates the GIST index itself
        self.use_N_D_index = False
        self.use_typmod: bool | None = None
        self.nullable = True

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        if dialect is None:  # geoalchemy2's DDL listeners ask without a dialect
            return Geometry(self.geometry_type, srid=4326, spatial_index=False)
        if dialect.name == "postgresql":
            return dialect.type_descriptor(
                Geometry(self.geometry_type, srid=4326, spatial_index=False)  # index made by migration
            )
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: BaseGeometry | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            # Hex EWKB text is accepted by PostGIS' geometry input function.
            return shapely.to_wkb(shapely.set_srid(value, 4326), hex=True, include_srid=True)
        return shapely.to_wkb(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if hasattr(value, "desc") and hasattr(value, "srid"):  # geoalchemy2 WKBElement
            from geoalchemy2.shape import to_shape

            geom = to_shape(value)
        elif isinstance(value, memoryview):
            geom = shapely.from_wkb(bytes(value))
        else:
            geom = shapely.from_wkb(value)
        return shapely.set_srid(geom, 0)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
