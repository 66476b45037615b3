"""``burnwatch drone``: drone flight commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from burnwatch.cli.options import finite


@click.group()
def drone() -> None:
    """Drone flights: ingest photos, detect fire/smoke, georeference every find."""


@drone.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (GeoPackage, GeoJSON, hotspots.geojson, thumbnails, report.json).",
)
@click.option(
    "--dsm",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="DSM GeoTIFF to intersect rays with (heights in the photos' AbsoluteAltitude datum).",
)
@click.option(
    "--srt",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="DJI .SRT telemetry for the flight track.",
)
@click.option(
    "--detector",
    type=click.Choice(["onnx", "torch", "none"]),
    default="onnx",
    show_default=True,
    help="Fire/smoke detector backend, or none for footprints and track only.",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=1,
    show_default=True,
    help="Worker processes for decoding and detection (0 = in this process).",
)
@click.option(
    "--ground-elevation",
    type=click.FloatRange(-500.0, 9000.0),
    callback=finite,
    help="Flat ground height (m, in the datum of the photos' AbsoluteAltitude) instead of the take-off "
    "height; the camera is then at AbsoluteAltitude.",
)
@click.option(
    "--alt-offset",
    type=click.FloatRange(-1000.0, 1000.0),
    callback=finite,
    default=0.0,
    show_default=True,
    help="Metres added to AbsoluteAltitude with --dsm (vertical datum difference).",
)
@click.option(
    "--utc-offset",
    type=click.FloatRange(-14.0, 14.0),
    callback=finite,
    default=None,
    help="Camera clock offset from UTC in hours (0 = the clock is UTC); default: the clock is local "
    "time in the time zone at the photos' GPS position (UTC+7 in Vietnam).",
)
@click.option(
    "--refine-attitude",
    is_flag=True,
    help="Refine each photo's camera attitude from tie points with the flight's other photos "
    "(bundle adjustment holding the GNSS/RTK centres; photos it cannot refine keep their tags).",
)
@click.option(
    "--ortho-sigma",
    type=click.FloatRange(0.0, 1000.0),
    callback=finite,
    default=2.5,
    show_default=True,
    help="Georeferencing error (m, 1 sigma) of orthomosaics in the flight (less for RTK/GCP mosaics).",
)
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address (tcp://host:8786): photos are processed on its workers "
    "(the flight and --out must be on storage they share); default: local worker processes.",
)
@click.option("--overwrite", is_flag=True, help="Replace outputs of a different flight in --out.")
def ingest(
    path: Path,
    out_dir: Path,
    dsm: Path | None,
    srt: Path | None,
    detector: str,
    workers: int,
    ground_elevation: float | None,
    alt_offset: float,
    utc_offset: float | None,
    refine_attitude: bool,
    ortho_sigma: float,
    scheduler: str | None,
    overwrite: bool,
) -> None:
    """Ingest a flight folder or .zip (JPEG / DJI JPEG-in-TIFF photos, optional .SRT and
    orthomosaic GeoTIFFs, which are scanned too)."""
    import functools

    from tqdm import tqdm

    from burnwatch.flights.ingest import ingest_flight

    factory = None if detector == "none" else functools.partial(_load_detector, detector)
    bar = tqdm(total=0, unit="photo", desc="photos", disable=None)

    def progress(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix_str(name)

    try:
        result = ingest_flight(
            path,
            out_dir,
            detector_factory=factory,
            progress=progress,
            dsm=dsm,
            srt=srt,
            workers=workers,
            ground_elevation=ground_elevation,
            alt_offset_m=alt_offset,
            utc_offset_h=utc_offset,
            overwrite=overwrite,
            refine_attitude=refine_attitude,
            ortho_sigma_m=ortho_sigma,
            scheduler=scheduler,
        )
    finally:
        bar.close()
    counts: dict[str, int] = {}
    for f in result.files:
        counts[f.status] = counts.get(f.status, 0) + 1
    click.echo(
        f"flight {result.flight_id}: "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + f"; {len(result.hotspots)} hotspots ({result.crs})"
    )
    for w in result.warnings:
        click.echo(f"  warning: {w}")
    for f in result.files:
        for msg in f.messages if f.status in ("error", "duplicate", "orthomosaic") else []:
            click.echo(f"  {f.status}: {msg}")
        for msg in f.messages if f.status == "ok" else []:
            if msg.endswith("not placed") or (refine_attitude and "attitude" in msg):
                click.echo(f"  {msg}")
    click.echo(f"outputs in {out_dir} (report.json, flight.gpkg, hotspots.geojson)")
    if not any(f.status in ("ok", "orthomosaic") for f in result.files):
        from burnwatch.errors import InputError

        raise InputError("no photo or orthomosaic of the flight could be used (messages above)", path=path)


def _load_detector(backend: str) -> Any:
    from burnwatch.detect.yolo import Detector

    return Detector.load(backend="torch" if backend == "torch" else "onnx")
