"""``burnwatch scan``: scan an area and a date range for active fires."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from burnwatch.cli.options import DATE, aoi_option
from burnwatch.sources.base import SATELLITE_SOURCES
from burnwatch.types import Scene

if TYPE_CHECKING:
    from burnwatch.errors import BurnwatchError
    from burnwatch.types import AOI

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
    help="file: GeoTIFF(s) to scan; firms: FIRMS CSV export(s) or CSPP AFIMG text files instead "
    "of the API. Repeatable.",
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
    from tqdm import tqdm

    from burnwatch.config import get_settings
    from burnwatch.errors import BurnwatchError, InputError, SourceError
    from burnwatch.pipeline import ScanOptions, load_exclusion_layer, prepare_out_dir, run_scan
    from burnwatch.sources.base import inclusive_end, parse_aoi
    from burnwatch.types import Hotspot

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
    # Checked before anything is read or requested: one clear error, nothing half-done.
    prepare_out_dir(out_dir)
    zones = load_exclusion_layer(options)
    parameters: dict[str, object] = {
        "source": source,
        "aoi": aoi,
        "start": window[0].isoformat() if window else None,
        "end": window[1].isoformat() if window else None,
    }
    inputs: list[str | Path] = list(files)
    scenes: Iterable[Scene] = []
    input_errors: list[BurnwatchError] = []  # filled while the scenes are read, too
    extra: list[Hotspot] = []
    notes: list[str] = []  # why inputs gave nothing, shown when the scan comes out empty
    usable = 0  # inputs read without error (CSV files, FIRMS requests)

    with _source_logs_collected() as logged:
        try:
            if source == "file":
                if not files:
                    raise InputError("--source file needs at least one --file GeoTIFF")
                if not band_map:
                    raise InputError("--source file needs --band-map (e.g. s2:B9,B11,B12)")
                scenes = _file_scenes(
                    files, band_map, area, window, input_errors, notes,
                    sensor=sensor, time=acq_time, sun_zenith=sun_zenith,
                )
                parameters["band_map"] = band_map
            elif source == "firms":
                from burnwatch.sources.firms import FirmsClient, day_chunks, read_hotspot_file

                if files:
                    for f in files:
                        bad: list[InputError] = []
                        try:
                            extra.extend(read_hotspot_file(f, aoi=area, errors=bad))  # CSV or AFIMG
                        except InputError as exc:  # one unreadable file; the others go on
                            input_errors.append(exc)
                            continue
                        usable += 1
                        input_errors.extend(bad)
                else:
                    if area is None:
                        raise InputError("--source firms needs --aoi (or --file CSV)")
                    client = FirmsClient(settings, source=firms_source)
                    inputs.append(f"FIRMS {firms_source} {area.bbox} {t_start.date()}..{t_end.date()}")
                    extra.extend(client.hotspots(area, t_start, t_end))
                    input_errors.extend(client.errors)
                    failed = sum(isinstance(e, SourceError) for e in client.errors)
                    usable += failed < len(day_chunks(t_start.date(), t_end.date(), client.max_days))
            else:
                if area is None:
                    raise InputError(f"--source {source} needs --aoi")
                from burnwatch.sources.sentinelhub import SentinelHubSource

                collection, default_res = SATELLITE_SOURCES[source]
                sh = SentinelHubSource(
                    collection, settings, resolution_m=resolution or default_res, max_cloud=max_cloud
                )
                input_errors = sh.errors
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
                    input_errors=input_errors,
                    exclusion_zones=zones,
                )
        except BurnwatchError:
            _echo_once([str(e) for e in input_errors] + logged, [])
            raise
    # Each problem once: the sources' own log lines for them were held back above.
    _echo_once([*result.errors, *logged], result.warnings)
    if not result.products and source != "firms":  # say why there was nothing to scan
        for note in notes or ([] if result.errors else [f"no {source} scene for these dates and AOI"]):
            click.echo(f"warning: {note}", err=True)
    usable += len(result.products)
    if not usable and result.errors:
        # Nothing could be scanned: a failing exit status (cron, the scheduler).
        raise BurnwatchError(f"nothing could be scanned ({len(result.errors)} problem(s) above)")
    click.echo(
        f"{len(result.products)} scene(s), {len(result.hotspots)} hotspot(s)"
        f"{f', {len(result.suppressed)} suppressed as static sources' if result.suppressed else ''}"
        f"{f', {result.outside_aoi} outside the AOI left out' if result.outside_aoi else ''}"
        f"{f', {result.duplicates} duplicate(s) dropped' if result.duplicates else ''}"
        f"{f', {result.outside_window} outside the dates left out' if result.outside_window else ''}"
        f"{f', {len(result.errors)} problem(s)' if result.errors else ''}"
        f" -> {out_dir}"
    )
    for key in ("hotspots_geojson", "hotspots_gpkg", "map", "manifest"):
        click.echo(f"  {key}: {result.outputs[key]}")


#: Sources whose WARNING/ERROR log lines repeat an error they also keep in ``.errors``.
_SOURCE_LOGGERS = ("burnwatch.sources.local", "burnwatch.sources.sentinelhub", "burnwatch.sources.firms")


class _Collect(logging.Filter):
    """Holds back WARNING+ records (their messages are kept) so the command prints each once."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())
            return False
        return True


@contextmanager
def _source_logs_collected() -> Iterator[list[str]]:
    collect = _Collect()
    loggers = [logging.getLogger(name) for name in _SOURCE_LOGGERS]
    for logger in loggers:
        logger.addFilter(collect)
    try:
        yield collect.messages
    finally:
        for logger in loggers:
            logger.removeFilter(collect)


def _echo_once(problems: Iterable[str], warnings: Iterable[str]) -> None:
    """One ``warning:`` line per distinct message, in order."""
    seen: set[str] = set()
    for message in [*problems, *warnings]:
        if message not in seen:
            seen.add(message)
            click.echo(f"warning: {message}", err=True)


def _file_scenes(
    files: Sequence[Path],
    band_map: str,
    area: AOI | None,
    window: tuple[datetime, datetime] | None,
    errors: list[BurnwatchError],
    notes: list[str],
    **read_kwargs: Any,
) -> Iterator[Scene]:
    """Local GeoTIFFs as scenes: unreadable files go to ``errors``, files outside the dates or
    the AOI to ``notes`` (with the reason); the rest are yielded one at a time."""
    from burnwatch.errors import BurnwatchError
    from burnwatch.sources.local import read_geotiff, scene_intersects

    for f in files:
        try:
            scene = read_geotiff(f, band_map, **read_kwargs)
        except BurnwatchError as exc:
            errors.append(exc)
            continue
        if window is not None and not window[0] <= scene.time <= window[1]:
            notes.append(
                f"{f}: acquired {scene.time:%Y-%m-%d %H:%M} UTC, outside "
                f"{window[0]:%Y-%m-%d %H:%M}..{window[1]:%Y-%m-%d %H:%M}; not scanned"
            )
            continue
        if area is not None and not scene_intersects(scene, area):
            notes.append(f"{f}: does not overlap the AOI {area.name} {area.bbox}; not scanned")
            continue
        yield scene
