"""Options and parameter types shared by several commands."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import Any

import click


class DateType(click.ParamType):
    """A date or datetime in ISO 8601 form, returned as an aware UTC datetime."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            try:
                d = date.fromisoformat(str(value))
            except ValueError:
                self.fail(f"{value!r} is not an ISO date (YYYY-MM-DD)", param, ctx)
            parsed = datetime(d.year, d.month, d.day)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


DATE = DateType()


def finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Option callback refusing nan/inf, which pass click's range checks (every comparison
    with nan is false)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", ctx=ctx, param=param)
    return value

aoi_option = click.option(
    "--aoi",
    metavar="BBOX|GEOJSON",
    help="Area of interest: 'min_lon,min_lat,max_lon,max_lat' (WGS84) or a GeoJSON file.",
)
