"""COG writer: valid Cloud-Optimised GeoTIFFs that read back exactly, colour tables, ramps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from burnwatch.errors import BurnwatchError, CorruptFileError, CRSError, InputError
from burnwatch.publish.cog import (
    FIRE_CLASS_COLOURS,
    colormap_from_breakpoints,
    validate_cog,
    write_classed_cogs,
    write_cog,
)

UTM48 = "EPSG:32648"
TRANSFORM = Affine(20.0, 0.0, 580000.0, 0.0, -20.0, 2330000.0)  # 20 m grid, Red River Delta


def _classes(rows: int = 1200, cols: int = 1100) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 4, size=(rows, cols), dtype=np.uint8)


def test_uint8_class_map_is_valid_cog_with_overviews_and_palette(tmp_path: Path) -> None:
    classes = _classes()
    path = write_cog(
        tmp_path / "fire_class.tif", classes, TRANSFORM, UTM48, nodata=0,
        colormap=FIRE_CLASS_COLOURS, band_descriptions=["fire confidence class"],
    )
    assert validate_cog(path, strict=True)
    with rasterio.open(path) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.block_shapes == [(512, 512)]
        assert ds.compression.name.lower() == "deflate"
        assert ds.overviews(1) == [2, 4]
        assert ds.crs.to_epsg() == 32648
        assert ds.transform == TRANSFORM
        assert ds.nodata == 0
        assert ds.descriptions == ("fire confidence class",)
        np.testing.assert_array_equal(ds.read(1), classes)
        cmap = ds.colormap(1)
        for value, rgba in FIRE_CLASS_COLOURS.items():
            assert cmap[value] == rgba
        # nearest overviews keep class values (no invented intermediate classes)
        assert set(np.unique(ds.read(1, out_shape=(300, 275)))) <= {0, 1, 2, 3}
    assert not list(tmp_path.glob(".*.part"))


def test_multiband_float_round_trip_keeps_nan(tmp_path: Path) -> None:
    data = np.random.default_rng(1).random((3, 130, 90), dtype=np.float32)
    data[1, :5, :5] = np.nan
    path = write_cog(tmp_path / "f.tif", data, TRANSFORM, "EPSG:4326", band_descriptions=["a", "b", "c"])
    assert validate_cog(path)
    with rasterio.open(path) as ds:
        assert ds.count == 3 and ds.dtypes[0] == "float32"
        assert np.isnan(ds.nodata)
        np.testing.assert_array_equal(ds.read(), data)  # NaN == NaN for assert_array_equal
        assert ds.descriptions == ("a", "b", "c")


def test_plain_geotiff_is_not_a_cog(tmp_path: Path) -> None:
    path = tmp_path / "striped.tif"
    data = _classes(1200, 1100)
    with rasterio.open(path, "w", driver="GTiff", width=1100, height=1200, count=1, dtype="uint8",
                       crs=UTM48, transform=TRANSFORM) as ds:
        ds.write(data, 1)
    assert validate_cog(path) is False


def test_validate_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError, match="no such file"):
        validate_cog(tmp_path / "nope.tif")
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage")
    with pytest.raises(CorruptFileError) as info:
        validate_cog(junk)
    assert str(junk) in str(info.value)


@pytest.mark.parametrize(
    ("array", "kwargs", "error", "match"),
    [
        (np.zeros((2, 3, 4, 5), np.uint8), {}, InputError, "2-D or band-first"),
        (np.zeros((0, 5), np.uint8), {}, InputError, "2-D or band-first"),
        (np.zeros((5, 5), np.float32), {"colormap": {1: (1, 2, 3)}}, InputError, "uint8"),
        (np.zeros((5, 5), np.uint8), {"colormap": {1: (1, 2, 300)}}, InputError, "RGB"),
        (np.zeros((5, 5), np.uint8), {"crs": "EPSG:999999"}, CRSError, "unknown CRS"),
        (np.zeros((5, 5), np.uint8), {"band_descriptions": ["a", "b"]}, InputError, "descriptions"),
        (np.zeros((5, 5), np.uint8), {"overview_resampling": "magic"}, InputError, "resampling"),
    ],
)
def test_bad_input_raises_one_clear_error(tmp_path: Path, array: np.ndarray, kwargs: dict,
                                          error: type[BurnwatchError], match: str) -> None:
    kwargs = {"crs": UTM48, **kwargs}
    out = tmp_path / "bad.tif"
    with pytest.raises(error, match=match) as info:
        write_cog(out, array, TRANSFORM, **kwargs)
    assert str(out) in str(info.value)
    assert not out.exists()


def test_breakpoint_ramp_classifies_by_half_open_bins() -> None:
    ramp = colormap_from_breakpoints([12.0, 35.4, 55.4], [(0, 228, 0), (255, 255, 0), (255, 126, 0),
                                                          (255, 0, 0, 200)])
    values = np.array([np.nan, -1.0, 11.99, 12.0, 35.39, 35.4, 55.4, 1e6, np.inf])
    np.testing.assert_array_equal(ramp.classify(values), [0, 1, 1, 2, 2, 3, 4, 4, 0])
    assert ramp.colormap == {0: (0, 0, 0, 0), 1: (0, 228, 0, 255), 2: (255, 255, 0, 255),
                             3: (255, 126, 0, 255), 4: (255, 0, 0, 200)}
    assert ramp.labels() == ["< 12", "12-35.4", "35.4-55.4", ">= 55.4"]


@pytest.mark.parametrize(
    ("breaks", "colours", "match"),
    [
        ([1.0, 1.0], [(0, 0, 0)] * 3, "ascending"),
        ([2.0, 1.0], [(0, 0, 0)] * 3, "ascending"),
        ([1.0, float("nan")], [(0, 0, 0)] * 3, "finite"),
        ([1.0, 2.0], [(0, 0, 0)] * 2, "need 3 colours"),
    ],
)
def test_bad_ramps_are_rejected(breaks: list[float], colours: list[tuple[int, ...]], match: str) -> None:
    with pytest.raises(InputError, match=match):
        colormap_from_breakpoints(breaks, colours)


def test_float_and_classed_cogs_agree(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pm25 = (rng.random((600, 700)) * 200).astype(np.float32)
    pm25[:20, :] = np.nan
    ramp = colormap_from_breakpoints([12, 35.4, 55.4, 150.4],
                                     [(0, 228, 0), (255, 255, 0), (255, 126, 0), (255, 0, 0), (143, 63, 151)])
    float_path, classed_path = write_classed_cogs(tmp_path / "pm25.tif", pm25, TRANSFORM, UTM48, ramp, "PM2.5 ug/m3")
    assert classed_path.name == "pm25_classes.tif"
    assert validate_cog(float_path) and validate_cog(classed_path)
    with rasterio.open(float_path) as f, rasterio.open(classed_path) as c:
        values, classes = f.read(1), c.read(1)
        assert f.dtypes[0] == "float32" and c.dtypes[0] == "uint8"
        assert c.colormap(1)[5] == (143, 63, 151, 255)
        assert c.transform == f.transform == TRANSFORM
    np.testing.assert_array_equal(values, pm25)
    np.testing.assert_array_equal(classes, ramp.classify(pm25))
    assert (classes[:20] == 0).all() and classes[20:].min() >= 1
