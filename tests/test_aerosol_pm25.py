"""AirNow / monitor readers, AOD pairing and the PM2.5 calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_file

from burnwatch.aerosol.airnow import concat, read_airnow_csv, read_monitor_csv, read_monitors
from burnwatch.aerosol.pairs import pair, read_aod_csv
from burnwatch.aerosol.pm25 import CalibrationModel, Samples, fit, time_blocks
from burnwatch.cli.main import cli
from burnwatch.errors import CorruptFileError, InputError

HEADER = (
    "Site,Parameter,Date (LT),Year,Month,Day,Hour,AQI,AQI Category,24-hr. Midpoint Avg. Conc.,"
    "Raw Conc.,Conc. Unit,Duration,QC Name\n"
)


def _airnow_row(local: str, value: float, qc: str = "Valid", unit: str = "UG/M3") -> str:
    return f"Hanoi,PM2.5 - Principal,{local},2017,01,01,00,100,3,30.0,{value},{unit},1 Hr,{qc}\n"


def test_airnow_reader_converts_local_time_to_utc_and_drops_missing(tmp_path: Path) -> None:
    p = tmp_path / "Hanoi_PM2.5_2017_YTD.csv"
    p.write_text(
        HEADER
        + _airnow_row("2017-01-01 12:00 AM", 50.5)  # midnight local = 17:00 UTC the day before
        + _airnow_row("2017-01-01 01:00 PM", -999.0, "Missing")
        + _airnow_row("2017-01-01 02:00 PM", 80.0, "Invalid")
        + _airnow_row("2017-01-01 03:00 PM", 61.2)
    )
    s = read_airnow_csv(p)
    assert s.station_id == "Hanoi" and s.source == "airnow"
    assert s.lon == pytest.approx(105.82, abs=0.01) and s.lat == pytest.approx(21.02, abs=0.01)
    assert [str(t) for t in s.times] == [
        "2016-12-31T17:00:00", "2017-01-01T06:00:00", "2017-01-01T07:00:00", "2017-01-01T08:00:00",
    ]  # fmt: skip
    assert s.pm25[0] == 50.5 and s.pm25[3] == 61.2
    assert np.isnan(s.pm25[1]) and np.isnan(s.pm25[2])  # -999 and QC "Invalid" are missing, not 0
    assert s.valid_count == 2


def test_airnow_reader_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(CorruptFileError, match=r"bad\.csv: not an AirNow export"):
        read_airnow_csv(bad)
    broken = tmp_path / "broken.csv"
    broken.write_text(HEADER + _airnow_row("yesterday", 3.0))
    with pytest.raises(InputError, match=r"broken\.csv: line 2"):
        read_airnow_csv(broken)


def test_airnow_reader_converts_mg_and_refuses_unknown_units(tmp_path: Path) -> None:
    p = tmp_path / "mg.csv"
    p.write_text(
        HEADER
        + _airnow_row("2017-01-01 01:00 AM", 0.0505, unit="MG/M3")
        + _airnow_row("2017-01-01 02:00 AM", 61.2, unit="µg/m³")
        + _airnow_row("2017-01-01 03:00 AM", -999.0, "Missing", unit="MG/M3"),
        encoding="utf-8",
    )
    s = read_airnow_csv(p)
    assert s.pm25[:2] == pytest.approx([50.5, 61.2]) and np.isnan(s.pm25[2])
    ppm = tmp_path / "ppm.csv"
    ppm.write_text(
        HEADER + _airnow_row("2017-01-01 01:00 AM", 3.0) + _airnow_row("2017-01-01 02:00 AM", 3.0, unit="PPM")
    )
    with pytest.raises(InputError, match=r"ppm\.csv: line 3: unknown concentration unit 'PPM'"):
        read_airnow_csv(ppm)


def test_real_hanoi_series(shared_dir: Path) -> None:
    files = [shared_file(shared_dir, f"data/air/Hanoi_PM2.5_{y}_YTD.csv") for y in (2016, 2017)]
    s = concat([read_airnow_csv(f) for f in files])
    assert np.all(np.diff(s.times.astype(np.int64)) > 0)  # sorted, no duplicate hours
    assert s.times.size > 10000
    # the export's -999 / non-Valid rows (545 of them in the raw files) are NaN, never negative
    assert np.isnan(s.pm25).sum() >= 500
    assert np.nanmin(s.pm25) >= 0
    # "2016-08-09 01:00 AM" local (UTC+7) is 2016-08-08 18:00 UTC; raw value 6.2
    i = int(np.searchsorted(s.times, np.datetime64("2016-08-08T18:00:00")))
    assert s.pm25[i] == pytest.approx(6.2)
    daily = s.daily_mean()
    assert 10 < np.nanmedian(daily.pm25) < 150


def test_generic_monitor_csv(tmp_path: Path) -> None:
    p = tmp_path / "monitors.csv"
    p.write_text(
        "station_id,lat,lon,time,pm25\n"
        "HN1,21.02,105.82,2024-01-05T03:00:00Z,55.0\n"
        "HN1,21.02,105.82,2024-01-05T02:00:00Z,-999\n"
        "HY2,20.65,106.05,2024-01-05T10:00:00+07:00,40\n"
    )
    series = {s.station_id: s for s in read_monitors(p)}
    assert set(series) == {"HN1", "HY2"}
    assert np.isnan(series["HN1"].pm25[0]) and series["HN1"].pm25[1] == 55.0  # sorted by time
    assert str(series["HY2"].times[0]) == "2024-01-05T03:00:00"
    bad = tmp_path / "bad.csv"
    bad.write_text("station_id,lat,lon,time,pm25\nHN1,abc,105,2024-01-01T00:00:00,3\n")
    with pytest.raises(InputError, match=r"bad\.csv: line 2"):
        read_monitor_csv(bad)


def _synthetic(n: int = 400, seed: int = 0) -> tuple[Samples, dict[str, float]]:
    rng = np.random.default_rng(seed)
    times = np.datetime64("2022-01-01T03:30:00") + (np.arange(n) * 2).astype("timedelta64[D]")
    doy = 1.0 + ((times - times.astype("datetime64[Y]")).astype("timedelta64[s]").astype(float) / 86400)
    aod = np.exp(rng.normal(np.log(0.4), 0.6, n))
    rh = rng.uniform(40, 92, n)
    blh = rng.uniform(300, 1800, n)
    true = {"intercept": 4.2, "ln_aod": 0.8, "f_rh": -0.35, "ln_blh": -0.5, "sin_doy": 0.2, "cos_doy": 0.3}
    ln_pm = (
        true["intercept"] + true["ln_aod"] * np.log(aod) + true["f_rh"] * np.log(1 / (1 - rh / 100))
        + true["ln_blh"] * np.log(blh / 1000) + true["sin_doy"] * np.sin(2 * np.pi * doy / 365.25)
        + true["cos_doy"] * np.cos(2 * np.pi * doy / 365.25) + rng.normal(0, 0.15, n)
    )  # fmt: skip
    return Samples(times, aod, np.exp(ln_pm), rh, blh), true


def test_calibration_recovers_a_known_relation(tmp_path: Path) -> None:
    samples, true = _synthetic()
    model = fit(samples, folds=5, gap_days=3)
    assert model.features == ("ln_aod", "f_rh", "ln_blh", "sin_doy", "cos_doy")
    for name in model.features:
        assert model.coefficient(name) == pytest.approx(true[name], abs=0.06), name
    assert model.intercept == pytest.approx(true["intercept"], abs=0.06)
    m = model.metrics
    assert m is not None and m.n == 400 and len(m.fold_r2) == 5
    assert m.cv_r2 > 0.8 and m.cv_rmse < 15
    assert m.train_r2 >= m.cv_r2 - 0.02
    back = CalibrationModel.load(model.save(tmp_path / "m.json"))
    assert back == model
    t = np.datetime64("2022-06-01T03:30:00")
    pm = back.predict(np.array([0.2, 0.8, np.nan]), t, rh=70.0, blh=800.0)
    assert pm[1] > pm[0] > 0 and np.isnan(pm[2])  # NaN AOD gives NaN PM2.5, never a filled value


def test_calibration_without_signal_has_no_skill() -> None:
    samples, _ = _synthetic()
    rng = np.random.default_rng(1)
    shuffled = Samples(samples.times, rng.permutation(samples.aod), samples.pm25)
    model = fit(shuffled, folds=5, seasonal=False)
    assert model.metrics is not None and model.metrics.cv_r2 < 0.1


def test_time_blocks_are_contiguous() -> None:
    t = np.array(["2022-01-03", "2022-01-01", "2022-01-02", "2022-01-04"], dtype="datetime64[s]")
    blocks = time_blocks(t, 2)
    assert [sorted(t[b].astype(str).tolist()) for b in blocks] == [
        ["2022-01-01T00:00:00", "2022-01-02T00:00:00"], ["2022-01-03T00:00:00", "2022-01-04T00:00:00"],
    ]  # fmt: skip


def test_model_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"format": "other"}')
    with pytest.raises(CorruptFileError, match=r"x\.json"):
        CalibrationModel.load(p)
    with pytest.raises(InputError, match="relative humidity"):
        CalibrationModel(("ln_aod", "f_rh"), 1.0, (1.0, 0.1), 1.0).predict(0.3, np.datetime64("2022-01-01"))


def test_cli_calibrate_pairs_monitors_with_aod_csv(tmp_path: Path) -> None:
    samples, _ = _synthetic(300, seed=3)
    mon = tmp_path / "monitors.csv"
    aod = tmp_path / "aod.csv"
    mon.write_text(
        "station_id,lat,lon,time,pm25\n"
        + "".join(f"HN,21.02,105.82,{t}Z,{v:.2f}\n" for t, v in zip(samples.times, samples.pm25, strict=True))
    )
    assert samples.rh is not None and samples.blh is not None
    aod.write_text(
        "station_id,time,aod,rh,blh\n"
        + "".join(
            f"HN,{t + np.timedelta64(20, 'm')}Z,{a:.4f},{r:.1f},{b:.0f}\n"
            for t, a, r, b in zip(samples.times, samples.aod, samples.rh, samples.blh, strict=True)
        )
    )
    obs = read_aod_csv(aod)
    assert len(pair(read_monitor_csv(mon), obs, max_dt_h=1.0)) == 300
    with pytest.raises(InputError, match="no AOD observation matched"):
        pair(read_monitor_csv(mon), obs, max_dt_h=0.2)
    out = tmp_path / "model.json"
    res = CliRunner().invoke(
        cli, ["aerosol", "calibrate", "--monitors", str(mon), "--aod", str(aod), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "paired 300" in res.output and "R2 =" in res.output and "RMSE =" in res.output
    model = CalibrationModel.load(out)
    assert model.metrics is not None and model.metrics.cv_r2 > 0.7
    assert model.coefficient("ln_aod") == pytest.approx(0.8, abs=0.1)


def _write_pairs(
    tmp_path: Path, samples: Samples, monitor_shift_h: int = 0, suffix: str = "Z"
) -> tuple[Path, Path]:
    """Monitor and AOD CSVs from ``samples``; monitor times shifted by ``monitor_shift_h``."""
    assert samples.rh is not None and samples.blh is not None
    mon, aod = tmp_path / "monitors.csv", tmp_path / "aod.csv"
    shift = np.timedelta64(monitor_shift_h, "h")
    mon.write_text(
        "station_id,lat,lon,time,pm25\n"
        + "".join(
            f"HN,21.02,105.82,{t + shift}{suffix},{v:.2f}\n"
            for t, v in zip(samples.times, samples.pm25, strict=True)
        )
    )
    aod.write_text(
        "station_id,time,aod,rh,blh\n"
        + "".join(
            f"HN,{t + np.timedelta64(20, 'm')}Z,{a:.4f},{r:.1f},{b:.0f}\n"
            for t, a, r, b in zip(samples.times, samples.aod, samples.rh, samples.blh, strict=True)
        )
    )
    return mon, aod


def test_naive_monitor_times_need_an_explicit_utc_offset(tmp_path: Path) -> None:
    samples, _ = _synthetic(300, seed=3)
    mon, aod = _write_pairs(tmp_path, samples, monitor_shift_h=7, suffix="")  # Vietnam local, naive
    with pytest.raises(InputError, match=r"monitors\.csv: line 2: .* has no UTC offset"):
        read_monitor_csv(mon)
    assert read_monitor_csv(mon, assume_tz_h=7)[0].times[0] == samples.times.min()
    out = tmp_path / "model.json"
    args = ["aerosol", "calibrate", "--monitors", str(mon), "--aod", str(aod), "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0 and "--monitor-utc-offset" in res.output and not out.exists()
    res = CliRunner().invoke(cli, [*args, "--monitor-utc-offset", "7"])
    assert res.exit_code == 0, res.output
    assert "paired 300" in res.output
    model = CalibrationModel.load(out)
    assert model.metrics is not None and model.metrics.cv_r2 > 0.7
    assert "--monitor-utc-offset HOURS" in CliRunner().invoke(cli, ["aerosol", "calibrate", "--help"]).output


def test_binary_aod_csv_gives_one_clear_error(tmp_path: Path) -> None:
    import gzip

    samples, _ = _synthetic(60, seed=1)
    mon, aod = _write_pairs(tmp_path, samples)
    binary = tmp_path / "aod_bin.csv"
    binary.write_bytes(gzip.compress(aod.read_bytes()))
    with pytest.raises(CorruptFileError, match=r"aod_bin\.csv: not a text \(UTF-8\) CSV file"):
        read_aod_csv(binary)
    args = [
        "aerosol",
        "calibrate",
        "--monitors",
        str(mon),
        "--aod",
        str(binary),
        "--out",
        str(tmp_path / "m.json"),
    ]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and "aod_bin.csv: not a text" in res.output
    assert not isinstance(res.exception, UnicodeDecodeError)


def test_calibrate_reports_every_left_out_row_and_checks_folds_first(tmp_path: Path) -> None:
    samples, _ = _synthetic(120, seed=5)
    aod, pm = samples.aod.copy(), samples.pm25.copy()
    aod[[3, 4, 5]] = [np.nan, -0.3, 0.0]  # missing, invalid, clean (kept, clipped)
    pm[[10, 11]] = [5_000_000.0, 3_000.0]  # logger/unit errors
    mon, aod_csv = _write_pairs(tmp_path, Samples(samples.times, aod, pm, samples.rh, samples.blh))
    lines = aod_csv.read_text().splitlines()
    aod_csv.write_text("\n".join([*lines, "ZZ,2022-01-01T03:50:00Z,0.3,50,800"]) + "\n")  # no such station
    out = tmp_path / "m.json"
    args = ["aerosol", "calibrate", "--monitors", str(mon), "--aod", str(aod_csv), "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "left out 2 AOD observation(s): AOD missing or below -0.05" in res.output
    assert "left out 1 AOD observation(s): no valid monitor reading within 1 h" in res.output
    assert "paired 118 " in res.output
    assert "left out 2 pair(s): PM2.5 above 2000 ug/m3 (implausible)" in res.output
    assert "note: 1 pair(s) with AOD below 0.01 fitted as 0.01" in res.output
    model = CalibrationModel.load(out)
    assert model.metrics is not None and model.metrics.n == 116
    assert model.training["pm25_range"][1] < 2000
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\x1f\x8b\x08\x00\xff")
    res = CliRunner().invoke(cli, [*args[:5], str(binary), "--out", str(out), "--folds", "1"])
    assert res.exit_code == 2 and "Invalid value for '--folds'" in res.output and "bin.csv" not in res.output
