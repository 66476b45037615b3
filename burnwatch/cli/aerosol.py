"""``burnwatch aerosol``: AOD retrieval, PM2.5 layers and smoke attribution; ``calibrate``.

``burnwatch aerosol --aoi ... --start ... --end ...`` (no sub-command) is the same as
``burnwatch aerosol run ...``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from burnwatch.cli.options import DATE, aoi_option

_SOURCES = ("demo", "sentinel2-l1c", "sentinel2-l2a-aot", "s5p-ai")


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--source",
            type=click.Choice(_SOURCES),
            default="sentinel2-l1c",
            show_default=True,
            help="demo: embedded simulated smoky scene; sentinel2-l1c: burnwatch's own DDV retrieval; "
            "sentinel2-l2a-aot: Sen2Cor AOT; s5p-ai: TROPOMI UV aerosol index.",
        ),
        aoi_option,
        click.option("--start", type=DATE, help="First date (UTC), e.g. 2025-10-01."),
        click.option("--end", type=DATE, help="Last date (UTC, inclusive)."),
        click.option(
            "--out",
            "out_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("aerosol_out"),
            show_default=True,
            help="Output directory (COGs, legends, plume GeoJSON, summary.json).",
        ),
        click.option(
            "--model",
            "model_path",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="PM2.5 calibration JSON from 'burnwatch aerosol calibrate' (default: uncalibrated eta=70).",
        ),
        click.option(
            "--wind",
            "wind_csv",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Wind CSV: time, lon/lat or station, wind_dir_deg (FROM), wind_speed_ms.",
        ),
        click.option(
            "--wind-from", type=float, default=None, help="Default wind direction FROM (deg, default 45)."
        ),
        click.option("--wind-speed", type=float, default=None, help="Default wind speed (m/s, default 3)."),
        click.option(
            "--hotspots",
            "hotspot_files",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Fire hotspots (GeoJSON/GPKG from scan) to test for plumes. Repeatable.",
        ),
        click.option("--rh", type=float, default=None, help="Relative humidity (%) if the model uses it."),
        click.option(
            "--blh", type=float, default=None, help="Boundary-layer height (m) if the model uses it."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _do_run(
    source: str,
    aoi: str | None,
    start: datetime | None,
    end: datetime | None,
    out_dir: Path,
    model_path: Path | None,
    wind_csv: Path | None,
    wind_from: float | None,
    wind_speed: float | None,
    hotspot_files: tuple[Path, ...],
    rh: float | None,
    blh: float | None,
) -> None:
    from burnwatch.aerosol.job import run_job
    from burnwatch.aerosol.pm25 import CalibrationModel
    from burnwatch.aerosol.wind import DEFAULT_WIND_FROM_DEG, DEFAULT_WIND_SPEED_MS, Wind, read_wind_csv
    from burnwatch.publish.vector import read_hotspots
    from burnwatch.sources.base import parse_aoi

    if source != "demo" and not (aoi and start and end):
        raise click.UsageError(f"--source {source} needs --aoi, --start and --end")
    area = parse_aoi(aoi) if aoi else None
    model = CalibrationModel.load(model_path) if model_path else None
    winds = read_wind_csv(wind_csv) if wind_csv else []
    default_wind = None
    if wind_from is not None or wind_speed is not None:
        default_wind = Wind(
            wind_from if wind_from is not None else DEFAULT_WIND_FROM_DEG,
            wind_speed if wind_speed is not None else DEFAULT_WIND_SPEED_MS,
            source="option",
        )
    hotspots = [h for f in hotspot_files for h in read_hotspots(f)]
    click.echo(f"aerosol: source {source} -> {out_dir}")
    count = 0

    def step(stem: str) -> None:  # grids arrive one by one; their number is unknown up front
        nonlocal count
        count += 1
        click.echo(f"[{count}] processing {stem} ...", err=True)

    result = run_job(
        source, out_dir, aoi=area, start=start, end=end, model=model, winds=winds,
        default_wind=default_wind, hotspots=hotspots, rh=rh, blh=blh, progress=step,
    )  # fmt: skip
    for g in result.grids:
        stats = g["stats"]
        smoky = [i["incident_id"] for i in g["incidents"] if i["smoke"]]
        mean = stats["mean"] if stats["mean"] is not None else float("nan")
        click.echo(
            f"{g['stem']}: {g['quantity']} mean {mean:.3f}, valid {100 * g['valid_fraction']:.0f} %, "
            f"plumes at {len(smoky)} of {len(g['incidents'])} incidents"
        )
    for err in result.errors:
        click.echo(f"error: {err}", err=True)
    if model is None and any(g["quantity"] == "aod550" for g in result.grids):
        click.echo(
            "note: PM2.5 uses the UNCALIBRATED default (70 ug/m3 per unit AOD); pass --model", err=True
        )
    click.echo(f"summary: {result.summary_path}")
    if not result.grids:
        raise click.ClickException("no aerosol grid was produced (see errors above)")


@click.group("aerosol", invoke_without_command=True)
@_run_options
@click.pass_context
def aerosol(ctx: click.Context, **opts: Any) -> None:
    """Aerosol optical depth, PM2.5 layers and smoke attribution.

    Without a sub-command this runs the job ('run') with the options given here, e.g.
    'burnwatch aerosol --source demo' or 'burnwatch aerosol --aoi 105.9,20.9,106.1,21.1
    --start 2025-10-01 --end 2025-10-10'.
    """
    if ctx.invoked_subcommand is not None:
        return
    if opts["source"] != "demo" and not opts["aoi"]:
        click.echo(ctx.get_help())
        return
    _do_run(**opts)


@aerosol.command("run")
@_run_options
def run(**opts: Any) -> None:
    """Retrieve AOD, write AOD/PM2.5 COGs and quality grids, attribute smoke, write summary.json."""
    _do_run(**opts)


def _report_dropped(unmatched: int, max_dt_h: float, samples: Any) -> None:
    """One line per kind of AOD observation or pair left out of the fit."""
    from burnwatch.aerosol.pm25 import MIN_AOD

    if unmatched:
        click.echo(
            f"left out {unmatched} AOD observation(s): no valid monitor reading within "
            f"{max_dt_h:g} h at their station/position"
        )
    kept, dropped = samples.screen()
    for reason, n in dropped.items():
        click.echo(f"left out {n} pair(s): {reason}")
    low = int((kept.aod < MIN_AOD).sum())
    if low:
        click.echo(f"note: {low} pair(s) with AOD below {MIN_AOD:g} fitted as {MIN_AOD:g}")


@aerosol.command("calibrate")
@click.option(
    "--monitors",
    "monitor_files",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PM2.5 monitor CSV: AirNow export or station_id,lat,lon,time,pm25. Repeatable.",
)
@click.option(
    "--aod",
    "aod_files",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="AOD CSV (time, aod, station_id or lon/lat, [rh], [blh]) or AOD GeoTIFF(s) from 'run'. Repeatable.",
)
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Model JSON."
)
@click.option(
    "--monitor-utc-offset",
    type=click.FloatRange(-12.0, 14.0),
    default=None,
    metavar="HOURS",
    help="UTC offset of timestamps WITHOUT an offset in generic monitor CSVs (0 = UTC, 7 = Vietnam "
    "local time). Without it such timestamps are refused rather than guessed; AirNow exports "
    "always use their site's offset (UTC+7 for Hanoi).",
)
@click.option(
    "--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Time-blocked CV folds."
)
@click.option(
    "--gap-days", type=float, default=3.0, show_default=True, help="Days dropped around each test block."
)
@click.option(
    "--max-dt-h", type=float, default=1.0, show_default=True, help="Max AOD-monitor time gap (hours)."
)
@click.option("--daily", is_flag=True, help="Pair with 24-h mean PM2.5 instead of the nearest hour.")
@click.option("--no-seasonal", is_flag=True, help="Leave out the day-of-year terms.")
def calibrate(
    monitor_files: tuple[Path, ...],
    aod_files: tuple[Path, ...],
    out_path: Path,
    folds: int,
    gap_days: float,
    max_dt_h: float,
    daily: bool,
    no_seasonal: bool,
    monitor_utc_offset: float | None,
) -> None:
    """Fit PM2.5 = f(AOD, season, RH, BLH) against monitors; print CV R² and RMSE; save JSON."""
    from burnwatch.aerosol.airnow import concat, read_monitors
    from burnwatch.aerosol.pairs import pair, read_aod_csv, sample_aod_grids
    from burnwatch.aerosol.pm25 import MIN_AOD_VALID, fit

    series = [s for f in monitor_files for s in read_monitors(f, monitor_utc_offset)]
    by_station: dict[str, list[Any]] = {}
    for s in series:
        by_station.setdefault(s.station_id, []).append(s)
    monitors = [concat(v) for v in by_station.values()]
    if daily:
        monitors = [m.daily_mean() for m in monitors]
        max_dt_h = max(max_dt_h, 24.0)
    observations = []
    for f in aod_files:
        if f.suffix.lower() in (".tif", ".tiff"):
            observations.extend(sample_aod_grids([f], monitors))
        else:
            observations.extend(read_aod_csv(f))
    usable = [o for o in observations if math.isfinite(o.aod) and o.aod > MIN_AOD_VALID]
    if len(usable) < len(observations):
        click.echo(
            f"left out {len(observations) - len(usable)} AOD observation(s): "
            f"AOD missing or below {MIN_AOD_VALID:g}"
        )
    samples = pair(monitors, usable, max_dt_h=max_dt_h)
    click.echo(f"paired {len(samples)} AOD/PM2.5 observations from {len(monitors)} station(s)")
    _report_dropped(len(usable) - len(samples), max_dt_h, samples)
    model = fit(samples, folds=folds, gap_days=gap_days, seasonal=not no_seasonal,
                description=f"fitted on {', '.join(p.name for p in monitor_files)}")  # fmt: skip
    m = model.metrics
    assert m is not None
    click.echo(f"features: {', '.join(model.features)}")
    click.echo(
        "coefficients: " + ", ".join(f"{n}={c:+.3f}" for n, c in zip(model.features, model.coef, strict=True))
    )
    click.echo(f"cross-validated ({m.folds} time-blocked folds, gap {m.gap_days:g} d):")
    click.echo(f"  R2 = {m.cv_r2:.3f}, RMSE = {m.cv_rmse:.1f} ug/m3, bias = {m.cv_bias:+.1f} ug/m3")
    click.echo(f"in-sample: R2 = {m.train_r2:.3f}, RMSE = {m.train_rmse:.1f} ug/m3 (n = {m.n})")
    click.echo(f"saved {model.save(out_path)}")
