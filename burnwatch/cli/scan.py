"""``burnwatch scan``: scan an area and a date range for active fires."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from burnwatch.cli.options import DATE, aoi_option
from burnwatch.sources.base import SATELLITE_SOURCES
from burnwatch.types import Scene

log = logging.getLogger(__name__)

SOURCES = (*SATELLITE_SOURCES, "firms", "file")


@click.command()
@click.option("--source", type=click.Choice(SOURCES), required=True, help="Where the data comes from.")
@aoi_option
@click.option("--start", type=DATE, help="First acquisition date (UTC), e.g. 2025-10-01.")
@click.option("--end", type=DATE, help="Last acquisition date (UTC, inclusive).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory (hotspots, COGs, map, manifest).",
)
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="file: GeoTIFF(s) to scan; firms: FIRMS CSV export(s) instead of the API. Repeatable.",
)
@click.option(
    "--band-map",
    default=None,
    help="file: band order, e.g. 's2:B9,B11,B12' or 'red=1,nir=2,swir1=3,swir2=4'.",
)
@click.option("--sensor", default=None, help="file: sensor (MSI, OLI, ETM+) if the band map has none.")
@click.option("--time", "acq_time", type=DATE, default=None, help="file: acquisition time (UTC).")
@click.option("--sun-zenith", type=float, default=None, help="file: sun zenith angle (degrees), if known.")
@click.option(
    "--firms-source",
    default="VIIRS_SNPP_NRT",
    show_default=True,
    help="firms: FIRMS product, e.g. VIIRS_NOAA20_NRT, MODIS_NRT.",
)
@click.option(
    "--max-cloud",
    type=float,
    default=60.0,
    show_default=True,
    help="sentinel2/landsat: skip scenes with more cloud cover (%).",
)
@click.option("--resolution", type=float, default=None, help="sentinel2/landsat: pixel size in metres.")
@click.option("--algorithm", default=None, help="Force a fire algorithm (default: by sensor).")
@click.option(
    "--min-confidence",
    type=click.Choice(["low", "nominal", "high"]),
    default="low",
    show_default=True,
    help="Lowest pixel confidence class kept.",
)
@click.option(
    "--exclusions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Vector file of known static heat sources (kilns, factories, flares) to suppress.",
)
@click.option("--exclusion-field", default="name", show_default=True, help="Name field of --exclusions.")
def scan(
    source: str,
    aoi: str | None,
    start: datetime | None,
    end: datetime | None,
    out_dir: Path,
    files: tuple[Path, ...],
    band_map: str | None,
    sensor: str | None,
    acq_time: datetime | None,
    sun_zenith: float | None,
    firms_source: str,
    max_cloud: float,
    resolution: float | None,
    algorithm: str | None,
    min_confidence: str,
    exclusions: Path | None,
    exclusion_field: str,
) -> None:
    """Scan an AOI and date range for active fires and publish hotspots, COGs and a map.

    \b
    Examples:
      burnwatch scan --source sentinel2 --aoi 105.9,20.5,106.3,20.9 \
        --start 2025-10-01 --end 2025-10-10 --out maps/hy
      burnwatch scan --source file --file scene.tif --band-map s2:B9,B11,B12 --out maps/bc
      burnwatch scan --source firms --file firms.csv --aoi vietnam.geojson --out maps/firms
    """
    from shapely.geometry import box
    from tqdm import tqdm

    from burnwatch.config import get_settings
    from burnwatch.errors import BurnwatchError, InputError
    from burnwatch.pipeline import ScanOptions, run_scan
    from burnwatch.sources.base import inclusive_end, parse_aoi
    from burnwatch.types import AOI, Hotspot

    settings = get_settings()
    area: AOI | None = parse_aoi(aoi) if aoi else None
    now = datetime.now(timezone.utc)
    t_end = inclusive_end(end) if end else now  # an --end at midnight covers that whole day
    t_start = start or (t_end - timedelta(days=10))
    if t_start > t_end:
        raise InputError(f"--start {t_start.isoformat()} is after --end {t_end.isoformat()}")
    # Files are filtered by date only when dates are given; remote sources always have a window.
    dated = start is not None or end is not None
    window = (t_start, t_end) if dated or not files else None
    options = ScanOptions(
        algorithm=algorithm,
        min_confidence=min_confidence,  # type: ignore[arg-type]
        exclusions=exclusions,
        exclusion_name_field=exclusion_field,
        tile_url=settings.tile_url,
        title=f"burnwatch {source} scan",
    )
    parameters: dict[str, object] = {
        "source": source,
        "aoi": aoi,
        "start": window[0].isoformat() if window else None,
        "end": window[1].isoformat() if window else None,
    }
    inputs: list[str | Path] = list(files)
    scenes: Iterable[Scene] = []
    source_errors: list[BurnwatchError] = []
    extra: list[Hotspot] = []
    errors: list[str] = []

    if source == "file":
        if not files:
            raise InputError("--source file needs at least one --file GeoTIFF")
        if not band_map:
            raise InputError("--source file needs --band-map (e.g. s2:B9,B11,B12)")
        from burnwatch.sources.local import LocalSource, read_geotiff

        if area is not None or window is not None:
            local = LocalSource(list(files), band_map, sensor=sensor, time=acq_time, sun_zenith=sun_zenith)
            source_errors = local.errors
            scenes = local.scenes(
                area or AOI(box(-180, -90, 180, 90), "world"),
                window[0] if window else datetime(1970, 1, 1, tzinfo=timezone.utc),
                window[1] if window else datetime(2100, 1, 1, tzinfo=timezone.utc),
            )
        else:  # no AOI and no dates: scan every file whole, whatever its date

            def read_all() -> Iterator[Scene]:
                for f in files:
                    try:
                        yield read_geotiff(f, band_map, sensor=sensor, time=acq_time, sun_zenith=sun_zenith)
                    except BurnwatchError as exc:
                        source_errors.append(exc)

            scenes = read_all()
        parameters["band_map"] = band_map
    elif source == "firms":
        from burnwatch.sources.firms import FirmsClient, read_firms_csv

        if files:
            for f in files:
                bad: list[InputError] = []
                extra.extend(read_firms_csv(f, aoi=area, errors=bad))
                errors.extend(str(e) for e in bad)
        else:
            if area is None:
                raise InputError("--source firms needs --aoi (or --file CSV)")
            client = FirmsClient(settings, source=firms_source)
            extra.extend(client.hotspots(area, t_start, t_end))
            inputs.append(f"FIRMS {firms_source} {area.bbox} {t_start.date()}..{t_end.date()}")
    else:
        if area is None:
            raise InputError(f"--source {source} needs --aoi")
        from burnwatch.sources.sentinelhub import SentinelHubSource

        collection, default_res = SATELLITE_SOURCES[source]
        sh = SentinelHubSource(
            collection, settings, resolution_m=resolution or default_res, max_cloud=max_cloud
        )
        source_errors = sh.errors
        scenes = sh.scenes(area, t_start, t_end)
        inputs.append(f"sentinelhub {collection} {area.bbox} {t_start.date()}..{t_end.date()}")

    quiet = logging.getLogger().getEffectiveLevel() > logging.WARNING
    with tqdm(desc="scenes", unit="scene", disable=quiet) as bar:

        def progress(done: int, total: int | None, scene_id: str) -> None:
            bar.set_postfix_str(scene_id[-40:])
            bar.update(1)

        result = run_scan(
            scenes,
            out_dir,
            options,
            extra_hotspots=extra,
            inputs=inputs,
            parameters=parameters,
            progress=progress,
            aoi=area,
            window=window if source in ("file", "firms") else None,
        )
    errors.extend(str(e) for e in source_errors)
    problems = [*errors, *result.errors]
    for message in problems:
        click.echo(f"warning: {message}", err=True)
    if problems and not result.products and not result.hotspots:
        # Nothing could be scanned: say so with a failing exit status (cron, the scheduler).
        raise click.ClickException(f"nothing was scanned: {problems[0]}")
    click.echo(
        f"{len(result.products)} scene(s), {len(result.hotspots)} hotspot(s)"
        f"{f', {len(result.suppressed)} suppressed as static sources' if result.suppressed else ''}"
        f"{f', {result.outside_aoi} outside the AOI left out' if result.outside_aoi else ''}"
        f"{f', {result.duplicates} duplicate(s) dropped' if result.duplicates else ''}"
        f"{f', {result.outside_window} outside the dates left out' if result.outside_window else ''}"
        f" -> {out_dir}"
    )
    for key in ("hotspots_geojson", "hotspots_gpkg", "map", "manifest"):
        click.echo(f"  {key}: {result.outputs[key]}")
