"""COG layers with VN_AQI colours, and smoke attribution downwind of simulated fires."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from burnwatch.aerosol.grid import QA_GOOD, AerosolGrid
from burnwatch.aerosol.layers import VN_AQI_RAMP, pm25_to_vn_aqi, write_grid_layers
from burnwatch.aerosol.plume import IncidentPoint, attribute_smoke, smoke_hotspots
from burnwatch.aerosol.pm25 import CalibrationModel
from burnwatch.aerosol.retrieval import retrieve_aod
from burnwatch.aerosol.simulate import PlumeSource, plume_aod, simulate_scene
from burnwatch.aerosol.wind import Wind, read_wind_csv, wind_for
from burnwatch.errors import CorruptFileError, InputError
from burnwatch.publish.cog import validate_cog
from burnwatch.publish.vector import read_hotspots, write_hotspots


def test_vn_aqi_breakpoints_and_colours() -> None:
    pm = np.array([0.0, 12.5, 25.0, 50.0, 80.0, 150.0, 250.0, 350.0, 500.0, np.nan])
    aqi = pm25_to_vn_aqi(pm)
    np.testing.assert_array_equal(aqi[:9], [0, 25, 50, 100, 150, 200, 300, 400, 500])
    assert np.isnan(aqi[9])
    classes = VN_AQI_RAMP.classify(np.array([10.0, 30.0, 60.0, 100.0, 200.0, 300.0, 600.0, np.nan]))
    np.testing.assert_array_equal(classes, [1, 2, 3, 4, 5, 6, 6, 0])
    assert VN_AQI_RAMP.colormap[1][:3] == (0, 228, 0) and VN_AQI_RAMP.colormap[6][:3] == (126, 0, 35)


def _grid(values: np.ndarray, quantity: str = "aod550") -> AerosolGrid:
    from datetime import datetime, timezone

    return AerosolGrid(
        values.astype(np.float32), np.where(np.isfinite(values), QA_GOOD, 2).astype(np.uint8),
        Affine(200.0, 0, 600000.0, 0, -200.0, 2300000.0), "EPSG:32648",
        datetime(2024, 6, 10, 3, 40, tzinfo=timezone.utc), quantity, "test", "scene-1",  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize("quantity", ["aod550", "pm25"])
def test_layers_are_valid_cogs_with_tags(tmp_path: Path, quantity: str) -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 2 if quantity == "aod550" else 300, (700, 600))
    values[:50, :50] = np.nan
    paths = write_grid_layers(_grid(values, quantity), tmp_path, f"x_{quantity}")
    for key in ("values", "classes", "quality"):
        assert validate_cog(paths[key], strict=True), key
    with rasterio.open(paths["values"]) as src:
        assert src.dtypes[0] == "float32" and src.crs.to_epsg() == 32648
        assert src.tags()["TIME"] == "2024-06-10T03:40:00Z" and src.tags()["QUANTITY"] == quantity
        assert src.overviews(1)  # internal overviews for map zoom-out
        data = src.read(1)
        assert np.isnan(data[:50, :50]).all()
        np.testing.assert_allclose(data[60:, 60:], values[60:, 60:].astype(np.float32))
    with rasterio.open(paths["classes"]) as src:
        assert src.dtypes[0] == "uint8" and src.colormap(1)[1][:3] in ((0, 228, 0), (255, 255, 212))
    assert paths["legend"].stat().st_size > 1000 and paths["legend"].read_bytes()[:4] == b"\x89PNG"


def test_plume_aod_is_downwind_and_bent_by_shear() -> None:
    x, y = np.meshgrid(np.arange(-5000, 5001, 100.0), np.arange(-5000, 5001, 100.0))
    smoke = plume_aod(x, y, [PlumeSource(0.0, 0.0, 1.0)], Wind(from_deg=0.0, speed_ms=3.0))  # wind from N
    south, north = smoke[y < -1000].sum(), smoke[y > 1000].sum()
    assert south > 100 * north  # smoke travels south, away from where the wind comes from
    slow = plume_aod(np.array([0.0]), np.array([-1000.0]), [PlumeSource(0, 0, 1.0)], Wind(0.0, 1.0))
    fast = plume_aod(np.array([0.0]), np.array([-1000.0]), [PlumeSource(0, 0, 1.0)], Wind(0.0, 6.0))
    assert slow[0] > fast[0]


def _incidents(sim_sources: tuple[PlumeSource, ...], crs: str, time: object) -> list[IncidentPoint]:
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    out = []
    for i, s in enumerate(sim_sources):
        lon, lat = to_ll.transform(s.x, s.y)
        out.append(IncidentPoint(f"fire-{i}", lon, lat, time))  # type: ignore[arg-type]
    return out


def test_smoke_attribution_finds_the_plume_downwind_not_upwind(tmp_path: Path) -> None:
    wind = Wind(from_deg=45.0, speed_ms=3.0)  # north-east monsoon: smoke goes south-west
    sim = simulate_scene((400, 400), fires=[(120, 300)], wind=wind, seed=21, clouds=0)
    grid = retrieve_aod(sim.scene)
    fires = _incidents(sim.sources, sim.scene.crs, sim.scene.time)
    s = sim.sources[0]
    to_ll = Transformer.from_crs(sim.scene.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(s.x - 4000, s.y + 1000)  # north-west: crosswind, clean air
    control = IncidentPoint("no-fire", lon, lat, sim.scene.time)

    model = CalibrationModel.uncalibrated_default()
    right = {a.incident_id: a for a in attribute_smoke([*fires, control], grid, [wind], model=model)}
    assert right["fire-0"].smoke
    assert not right["no-fire"].smoke
    a = right["fire-0"]
    assert a.plume is not None and a.plume.is_valid and a.plume_area_km2 > 0.5
    assert a.plume_mean > a.background + 0.1
    assert a.pm25_excess_ugm3 is not None and a.pm25_excess_ugm3 > 5
    centroid = a.plume.centroid
    assert centroid.x < a.lon and centroid.y < a.lat  # south-west of the fire

    # Same scene, wind assumed from the opposite side: the "downwind" sector is clean.
    wrong = attribute_smoke(fires, grid, default_wind=Wind(from_deg=225.0, speed_ms=3.0))
    assert not wrong[0].smoke
    # ... and crosswind too.
    assert not attribute_smoke(fires, grid, default_wind=Wind(from_deg=135.0, speed_ms=3.0))[0].smoke

    hotspots = smoke_hotspots(right.values(), grid)
    assert len(hotspots) == 1 and hotspots[0].kind == "smoke"
    assert hotspots[0].attributes["incident_id"] == "fire-0"
    back = read_hotspots(write_hotspots(hotspots, tmp_path / "plumes.geojson"))
    assert back[0].attributes["incident_id"] == "fire-0" and back[0].kind == "smoke"


def test_no_plume_without_fire() -> None:
    sim = simulate_scene((300, 300), fires=[], seed=4, clouds=0)
    grid = retrieve_aod(sim.scene)
    to_ll = Transformer.from_crs(sim.scene.crs, "EPSG:4326", always_xy=True)
    incidents = []
    for i, (r, c) in enumerate([(150, 150), (80, 200), (220, 90)]):
        x, y = sim.scene.transform @ (c, r)
        lon, lat = to_ll.transform(x, y)
        incidents.append(IncidentPoint(f"p{i}", lon, lat, sim.scene.time))
    assert not any(a.smoke for a in attribute_smoke(incidents, grid, default_wind=Wind(90.0, 2.0)))


def test_wind_csv(tmp_path: Path) -> None:
    p = tmp_path / "wind.csv"
    p.write_text(
        "time,lon,lat,wind_dir_deg,wind_speed_ms\n"
        "2024-06-10T03:00:00Z,106.0,20.7,45,3.5\n"
        "2024-06-10T06:00:00Z,106.0,20.7,180,5\n"
    )
    winds = read_wind_csv(p)
    from datetime import datetime, timezone

    w = wind_for(winds, datetime(2024, 6, 10, 3, 40, tzinfo=timezone.utc), 106.0, 20.7)
    assert w is not None and w.from_deg == 45.0 and w.to_deg == 225.0 and w.source == "csv"
    assert wind_for(winds, datetime(2024, 6, 12, tzinfo=timezone.utc), 106.0, 20.7) is None
    bad = tmp_path / "bad.csv"
    bad.write_text("time,wind_dir_deg,wind_speed_ms\n2024-06-10T03:00:00Z,400,3\n")
    with pytest.raises(InputError, match=r"bad\.csv: line 2"):
        read_wind_csv(bad)
    with pytest.raises(CorruptFileError, match="needs columns"):
        (tmp_path / "nohead.csv").write_text("a,b\n1,2\n")
        read_wind_csv(tmp_path / "nohead.csv")


def test_aod_cogs_are_sampled_at_monitors_for_calibration(tmp_path: Path) -> None:
    from burnwatch.aerosol.airnow import MonitorSeries
    from burnwatch.aerosol.pairs import pair, sample_aod_grids

    values = np.full((50, 50), 0.4)
    values[10:20, 10:20] = np.nan
    paths = write_grid_layers(_grid(values), tmp_path, "g")
    to_ll = Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    inside = to_ll.transform(600000.0 + 200 * 30.5, 2300000.0 - 200 * 30.5)
    in_gap = to_ll.transform(600000.0 + 200 * 15.5, 2300000.0 - 200 * 15.5)
    outside = to_ll.transform(590000.0, 2310000.0)
    t = np.array(["2024-06-10T03:00:00", "2024-06-10T04:00:00"], dtype="datetime64[s]")
    monitors = [
        MonitorSeries(name, lon, lat, t, np.array([30.0, 50.0]))
        for name, (lon, lat) in (("in", inside), ("gap", in_gap), ("out", outside))
    ]
    obs = sample_aod_grids([paths["values"]], monitors)
    assert [(o.station_id, round(o.aod, 3)) for o in obs] == [("in", 0.4)]  # NaN cell and outside skipped
    samples = pair(monitors, obs, max_dt_h=1.0)
    assert samples.pm25.tolist() == [50.0]  # 03:40 is nearest to the 04:00 reading
    with pytest.raises(InputError, match="TIME tag"):
        sample_aod_grids([paths["classes"]], monitors)
