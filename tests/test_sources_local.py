"""Local GeoTIFFs: band maps, scaling, nodata, errors, real shared files; AOI parsing; band tables."""

from __future__ import annotations

import json
import warnings
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import shared_file
from shapely.geometry import box

from burnwatch.errors import CorruptFileError, CRSError, EmptyAOIError, InputError
from burnwatch.sources import bands
from burnwatch.sources.base import SceneSource, inclusive_end, parse_aoi, utm_crs_for
from burnwatch.sources.local import (
    LocalSource,
    etm_plus_toa_reflectance,
    parse_band_map,
    read_band_files,
    read_geotiff,
)

T0 = Affine(20.0, 0.0, 580000.0, 0.0, -20.0, 2330000.0)  # UTM 48N, Red River Delta


def _tif(
    path: Path,
    data: np.ndarray,
    crs: str | None = "EPSG:32648",
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    count, h, w = data.shape
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": count,
        "dtype": str(data.dtype),
        "transform": T0,
    }
    if crs:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        if tags:
            ds.update_tags(**tags)
    return path


# ---- band tables --------------------------------------------------------------------------


def test_band_tables_roles_and_irradiance() -> None:
    assert bands.band_name("S2A", "swir2") == "B12"
    assert bands.band_name("landsat8", "swir2") == "B7"
    assert bands.band_name("ETM+", "nir") == "B4"
    assert bands.roles_for("S2B")["B8A"] == "nir_narrow"
    assert "B05" not in bands.roles_for("S2A")  # red edge has no role
    assert bands.solar_irradiance("S2A", "swir2") == pytest.approx(85.25)
    assert bands.solar_irradiance("S2B", "swir1") == pytest.approx(247.08)
    assert bands.solar_irradiance("ETM+", "swir1") == pytest.approx(230.8)
    assert bands.instrument_name("s2b") == "MSI" and bands.instrument_name("landsat9") == "OLI"
    assert bands.solar_irradiance("MSI", "swir2") == bands.solar_irradiance("S2A", "swir2")
    assert bands.normalise_band("OLI", "B07") == "B7"  # Sentinel Hub spelling
    assert bands.normalise_band("S2", "b8a") == "B8A" and bands.normalise_band("S2", "9") == "B09"
    for sensor in bands.SENSORS:  # E0 falls with wavelength across the SWIR for every sensor
        assert (
            bands.solar_irradiance(sensor, "swir2")
            < bands.solar_irradiance(sensor, "swir1")
            < bands.solar_irradiance(sensor, "red")
        )
    with pytest.raises(InputError):
        bands.band_name("ETM+", "coastal")
    with pytest.raises(InputError):
        bands.sensor_key("modis")


# ---- AOI ----------------------------------------------------------------------------------


def test_parse_aoi_bbox_and_errors() -> None:
    aoi = parse_aoi(" 105.8, 20.9 ,106.1,21.2 ")
    assert aoi.bbox == pytest.approx((105.8, 20.9, 106.1, 21.2))
    with pytest.raises(EmptyAOIError):
        parse_aoi("106,21,106,21.5")
    with pytest.raises(EmptyAOIError):
        parse_aoi("")
    with pytest.raises(CRSError):
        parse_aoi("580000,2300000,590000,2310000")
    with pytest.raises(InputError, match="neither"):
        parse_aoi("105,20,106")


def test_parse_aoi_geojson_files(tmp_path: Path) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": box(105.0, 20.0, 105.5, 20.5).__geo_interface__,
            },
            {
                "type": "Feature",
                "properties": {},
                "geometry": box(106.0, 21.0, 106.5, 21.5).__geo_interface__,
            },
        ],
    }
    path = tmp_path / "two_fields.geojson"
    path.write_text(json.dumps(fc))
    aoi = parse_aoi(str(path))
    assert aoi.name == "two_fields" and aoi.geometry.area == pytest.approx(0.5)
    bare = tmp_path / "g.json"
    bare.write_text(json.dumps(box(105.0, 20.0, 105.5, 20.5).__geo_interface__))
    assert parse_aoi(str(bare)).bbox == pytest.approx((105.0, 20.0, 105.5, 20.5))
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.geojson: not valid JSON"):
        parse_aoi(str(bad))
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(EmptyAOIError, match=r"empty\.geojson"):
        parse_aoi(str(empty))
    utm = tmp_path / "utm.geojson"
    utm.write_text(json.dumps({**fc, "crs": {"type": "name", "properties": {"name": "EPSG:32648"}}}))
    with pytest.raises(CRSError, match=r"utm\.geojson"):
        parse_aoi(str(utm))
    with pytest.raises(InputError, match="not found"):
        parse_aoi(str(tmp_path / "missing.geojson"))


def test_utm_zone_and_inclusive_end() -> None:
    assert utm_crs_for(105.8, 21.0) == "EPSG:32648"
    assert utm_crs_for(108.3, 11.1) == "EPSG:32649"
    assert utm_crs_for(-2.0, -33.0) == "EPSG:32730"
    assert inclusive_end(datetime(2024, 3, 1)) == datetime(
        2024, 3, 1, 23, 59, 59, 999999, tzinfo=timezone.utc
    )
    assert inclusive_end(datetime(2024, 3, 1, 6)) == datetime(2024, 3, 1, 6, tzinfo=timezone.utc)


# ---- GeoTIFF reading ----------------------------------------------------------------------


def test_band_map_any_order_dn_scaling_and_nodata(tmp_path: Path) -> None:
    raw = np.stack([np.full((4, 5), v, np.uint16) for v in (3000, 1200, 2500)])  # B12, B4, B11
    raw[0, 0, 0] = 0
    path = _tif(tmp_path / "x_20240310.tif", raw, nodata=0)
    scene = read_geotiff(path, {"swir2": 1, "red": 2, "swir1": 3})
    assert scene.crs == "EPSG:32648" and scene.transform == T0 and scene.shape == (4, 5)
    assert scene.time == datetime(2024, 3, 10, tzinfo=timezone.utc)  # from the file name
    assert scene.bands["red"][1, 1] == pytest.approx(0.12)
    assert scene.bands["swir2"][1, 1] == pytest.approx(0.30)
    assert np.isnan(scene.bands["swir2"][0, 0]) and scene.bands["swir2"].dtype == np.float32
    preset = read_geotiff(path, "s2:B12,B4,B11", time=datetime(2024, 3, 11, 3, 30))
    assert preset.sensor == "MSI" and preset.metadata["sensor_key"] == "S2A" and preset.time.hour == 3
    assert np.array_equal(preset.bands["swir1"], scene.bands["swir1"])
    assert read_geotiff(path, {"swir2": 1}, sensor="landsat8").sensor == "OLI"
    assert read_geotiff(path, {"swir2": 1}, sensor="TM").sensor == "TM"  # unknown names kept


def test_reflectance_kept_and_eight_bit_refused(tmp_path: Path) -> None:
    refl = _tif(
        tmp_path / "r.tif",
        np.full((2, 3, 3), 0.25, np.float32),
        tags={"ACQUISITION_TIME": "2024-03-10T03:40:00Z", "SUN_ZENITH": "35.5"},
    )
    scene = read_geotiff(refl, {"swir1": 1, "swir2": 2})
    assert scene.bands["swir1"][0, 0] == pytest.approx(0.25) and scene.metadata["scale"] == 1.0
    assert scene.time == datetime(2024, 3, 10, 3, 40, tzinfo=timezone.utc) and scene.sun_zenith == 35.5
    dn8 = _tif(tmp_path / "d.tif", np.full((1, 3, 3), 120, np.uint8))
    with pytest.raises(InputError, match="8-bit"):
        read_geotiff(dn8, {"swir2": 1}, time=datetime(2024, 3, 10))
    assert read_geotiff(dn8, {"swir2": 1}, time=datetime(2024, 3, 10), scale=1 / 255).bands["swir2"][
        0, 0
    ] == pytest.approx(120 / 255)


def test_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage" * 10)
    with pytest.raises(CorruptFileError, match=r"junk\.tif"):
        read_geotiff(junk, {"swir2": 1}, time=datetime(2024, 3, 1))
    nocrs = _tif(tmp_path / "nocrs.tif", np.ones((1, 2, 2), np.float32) * 0.1, crs=None)
    with pytest.raises(CRSError, match=r"nocrs\.tif: raster has no CRS"):
        read_geotiff(nocrs, {"swir2": 1}, time=datetime(2024, 3, 1))
    ok = _tif(tmp_path / "ok.tif", np.ones((2, 2, 2), np.float32) * 0.1)
    with pytest.raises(InputError, match="band 3 for swir2, file has 2"):
        read_geotiff(ok, {"swir1": 1, "swir2": 3}, time=datetime(2024, 3, 1))
    with pytest.raises(InputError, match="no acquisition time"):
        read_geotiff(ok, {"swir2": 1})
    with pytest.raises(InputError, match="unknown spectral role"):
        parse_band_map({"thermal": 1})
    with pytest.raises(InputError, match="not a S2A band"):
        parse_band_map("s2:B9,B13")
    with pytest.raises(InputError, match="file not found"):
        read_geotiff(tmp_path / "nope.tif", {"swir2": 1})
    # a header that opens but pixel data cut short
    big = _tif(tmp_path / "trunc.tif", np.random.default_rng(0).random((2, 300, 300), dtype=np.float32))
    data = big.read_bytes()
    big.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=r"trunc\.tif"):
        read_geotiff(big, {"swir1": 1, "swir2": 2}, time=datetime(2024, 3, 1))


def test_local_source_skips_bad_files_and_filters(tmp_path: Path) -> None:
    good = _tif(tmp_path / "a_20240310.tif", np.full((2, 8, 8), 0.2, np.float32))
    late = _tif(tmp_path / "b_20240420.tif", np.full((2, 8, 8), 0.2, np.float32))
    bad = tmp_path / "c_20240310.tif"
    bad.write_bytes(b"not a tiff")
    src = LocalSource([good, late, bad], {"swir1": 1, "swir2": 2})
    assert isinstance(src, SceneSource)
    lon, lat = 105.77, 21.06  # inside the grid (UTM 48N x=580000.., y=2330000..)
    aoi = parse_aoi(f"{lon - 0.05},{lat - 0.05},{lon + 0.05},{lat + 0.05}")
    scenes = list(src.scenes(aoi, datetime(2024, 3, 1), datetime(2024, 3, 31)))
    assert [s.scene_id for s in scenes] == ["a_20240310"]
    assert len(src.errors) == 1 and "c_20240310.tif" in str(src.errors[0])
    far = parse_aoi("100,10,100.5,10.5")
    assert (
        list(LocalSource([good], {"swir2": 2}).scenes(far, datetime(2024, 3, 1), datetime(2024, 3, 31))) == []
    )


def test_etm_plus_calibration_matches_hand_computation() -> None:
    cal = etm_plus_toa_reflectance(30.0, date(2000, 3, 31), gain="high")
    dn = np.array([[1.0, 128.0, 255.0]], np.float32)
    out = cal("swir1", dn)
    lmin, lmax, esun = -1.0, 31.76, 230.8  # pre-July-2000 high gain, Chander et al. 2009
    d = 1 - 0.01672 * np.cos(np.radians(0.9856 * (91 - 4)))
    expected = np.pi * ((lmax - lmin) / 254 * (dn - 1) + lmin) * d**2 / (esun * np.cos(np.radians(30)))
    assert np.allclose(out, expected, rtol=1e-5)
    with pytest.raises(InputError):
        cal("coastal", dn)
    assert np.isnan(cal("swir1", np.array([0.0], np.float32))[0])  # DN 0 is fill
    per_band = etm_plus_toa_reflectance(30.0, date(2000, 3, 31), gain={"nir": "low"})
    assert per_band("nir", dn)[0, 2] > cal("nir", dn)[0, 2]  # low gain spans more radiance


# ---- real files from ../shared ------------------------------------------------------------


@pytest.mark.shared
def test_real_s2_b9_b11_b12(shared_dir: Path) -> None:
    path = shared_file(shared_dir, "data/satellite/s2_bc_fire_20230514_b9_b11_b12.tif")
    scene = read_geotiff(path, "s2:B9,B11,B12")
    assert set(scene.bands) == {"wv", "swir1", "swir2"} and not scene.has("red")
    assert scene.crs == "EPSG:32610" and scene.pixel_size == (20.0, 20.0) and scene.shape == (400, 400)
    assert scene.time == datetime(2023, 5, 14, tzinfo=timezone.utc)
    assert scene.metadata["scale"] == pytest.approx(1e-4)  # DN = reflectance x 10,000
    # the fire fronts saturate B12 far above the background (max DN 16112 -> 1.61)
    assert float(np.nanmax(scene.bands["swir2"])) == pytest.approx(1.6112, rel=1e-4)
    assert 0.15 < float(np.nanmedian(scene.bands["swir2"])) < 0.3
    assert (scene.bands["swir2"] > 0.8).sum() >= 20


@pytest.mark.shared
def test_real_landsat7_band_stack(shared_dir: Path) -> None:
    files = {
        role: shared_file(shared_dir, f"data/satellite/landsat7_nofire/lsat7_2000_{n}.tif")
        for role, n in [("blue", 10), ("green", 20), ("red", 30), ("nir", 40), ("swir1", 50), ("swir2", 70)]
    }
    with pytest.raises(InputError, match="8-bit"):  # DN 1-255 need a calibration
        read_band_files(files, sensor="ETM+", time=datetime(2000, 3, 31))
    scene = read_band_files(
        files,
        sensor="ETM+",
        time=datetime(2000, 3, 31),
        calibration=etm_plus_toa_reflectance(45.0, date(2000, 3, 31)),
        sun_zenith=45.0,
    )
    assert scene.crs == "EPSG:32119" and scene.shape == (443, 489) and scene.pixel_size == (28.5, 28.5)
    valid = np.isfinite(scene.bands["swir1"])
    assert 0.80 < valid.mean() < 0.90  # -99999 border is nodata
    for role, arr in scene.bands.items():
        med = float(np.nanmedian(arr))
        assert 0.02 < med < 0.35, (role, med)
    mixed = dict(files)
    other = shared_file(shared_dir, "data/satellite/s2_bc_fire_20230514_b9_b11_b12.tif")
    mixed["cirrus"] = other
    with pytest.raises(CRSError):
        read_band_files(mixed, sensor="ETM+", time=datetime(2000, 3, 31), scale=1.0)


def _ungeoreferenced_tif(path: Path, gcps: bool = False) -> Path:
    """A 3-band GeoTIFF that keeps its CRS but has no geotransform (or only a GCP)."""
    from rasterio.control import GroundControlPoint
    from rasterio.errors import NotGeoreferencedWarning

    extra: dict[str, object] = {"gcps": [GroundControlPoint(0, 0, 580000.0, 2330000.0)]} if gcps else {}
    profile = {"driver": "GTiff", "width": 8, "height": 8, "count": 3, "dtype": "float32", "crs": "EPSG:32648"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile, **extra) as ds:
            ds.write(np.full((3, 8, 8), 0.2, np.float32))
    return path


def test_missing_transform_is_refused_naming_the_file(tmp_path: Path) -> None:
    ident = _ungeoreferenced_tif(tmp_path / "ident_20230514.tif")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CRSError, match=r"ident_20230514\.tif: no georeferencing: the pixel-to-map transform is missing"):
            read_geotiff(ident, "s2:B9,B11,B12")
        with pytest.raises(CRSError, match=r"ident_20230514\.tif: no georeferencing"):
            read_band_files({"swir2": ident}, sensor="S2A", time=datetime(2023, 5, 14))
        source = LocalSource([ident], "s2:B9,B11,B12")
        assert list(source.scenes(parse_aoi("-180,-90,180,90"), datetime(2023, 1, 1), datetime(2024, 1, 1))) == []
        assert len(source.errors) == 1 and "no georeferencing" in str(source.errors[0])
        gcp = _ungeoreferenced_tif(tmp_path / "gcp_20230514.tif", gcps=True)
        with pytest.raises(CRSError, match=r"gcp_20230514\.tif: no georeferencing grid: .*ground control points"):
            read_geotiff(gcp, "s2:B9,B11,B12")
    assert not [w for w in caught if "georeferenc" in str(w.message).lower()]  # rasterio's warning stays inside
