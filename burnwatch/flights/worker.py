"""The per-photo work done in a worker process: validate, decode, detect, thumbnail.

Kept free of georeferencing so it can run in a separate process (spawned, so torch or
onnxruntime threads in the parent do not leak into it) and return small picklable values.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from burnwatch.errors import BurnwatchError, CorruptFileError, InputError, ModelError
from burnwatch.georef.tiepoints import Features, extract_features
from burnwatch.sources.drone_meta import PhotoMeta, intrinsics_from_meta, read_photo_meta
from burnwatch.types import Detection

#: Plausible heights above the take-off point (m); outside -> "absurd altitude".
REL_ALT_RANGE = (-1.0, 1500.0)
#: Plausible GNSS altitudes (m, any datum).
ABS_ALT_RANGE = (-500.0, 9000.0)
THUMB_MAX_SIDE = 640


class ImageDetector(Protocol):
    """Anything that finds fire/smoke boxes in an RGB uint8 HxWx3 image."""

    def detect_sliced(self, image: np.ndarray) -> list[Detection]: ...


DetectorFactory = Callable[[], ImageDetector]


class DetectorUnavailableError(ModelError):
    """The detector could not be built in a worker: the flight stops (rather than reporting
    every photo as free of fire)."""


class MissingGPSError(InputError):
    """A photo has no usable GPS position."""


class AltitudeError(InputError):
    """A photo's altitude is missing or not physically plausible."""


@dataclass
class PhotoOutcome:
    """What a worker returns for one photo."""

    path: str
    meta: PhotoMeta | None = None
    detections: list[Detection] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    thumbnail: str | None = None
    features: Features | None = None  # SIFT keypoints for attitude refinement (when asked)


def validate_meta(meta: PhotoMeta) -> None:
    """Raise a clear :class:`InputError` subclass when a photo cannot be georeferenced."""
    if not meta.has_gps:
        raise MissingGPSError(
            "no GPS position (neither EXIF GPS tags nor DJI XMP GpsLatitude/GpsLongtitude)", path=meta.path
        )
    assert meta.lat is not None and meta.lon is not None
    if not (-90.0 <= meta.lat <= 90.0 and -180.0 <= meta.lon <= 180.0):
        raise MissingGPSError(f"GPS position out of range (lat={meta.lat}, lon={meta.lon})", path=meta.path)
    if meta.rel_alt is not None and not REL_ALT_RANGE[0] <= meta.rel_alt <= REL_ALT_RANGE[1]:
        raise AltitudeError(
            f"absurd altitude: RelativeAltitude {meta.rel_alt:+.1f} m is outside "
            f"{REL_ALT_RANGE[0]:.0f}..{REL_ALT_RANGE[1]:.0f} m above take-off",
            path=meta.path,
        )
    if meta.abs_alt is not None and not ABS_ALT_RANGE[0] <= meta.abs_alt <= ABS_ALT_RANGE[1]:
        raise AltitudeError(f"absurd altitude: GPS altitude {meta.abs_alt:.1f} m", path=meta.path)
    if meta.rel_alt is None and meta.abs_alt is None:
        raise AltitudeError("no altitude (neither RelativeAltitude nor GPS altitude)", path=meta.path)
    for tag, value, limit in (
        ("GimbalPitchDegree", meta.gimbal_pitch, 180.0),
        ("GimbalRollDegree", meta.gimbal_roll, 180.0),
        ("GimbalYawDegree", meta.gimbal_yaw, 360.0),
        ("FlightYawDegree", meta.flight_yaw, 360.0),
    ):
        if value is not None and not (math.isfinite(value) and abs(value) <= limit):
            raise InputError(f"absurd attitude: {tag} {value} is outside ±{limit:.0f}°", path=meta.path)
    intr, source = intrinsics_from_meta(meta)  # raises when the focal length cannot be known
    if not (intr.fx > 0 and intr.fy > 0 and math.isfinite(intr.fx) and math.isfinite(intr.fy)):
        raise InputError(
            f"focal length {intr.fx:g} x {intr.fy:g} px from {source} is not a positive number",
            path=meta.path,
        )


def load_rgb(path: Path) -> np.ndarray:
    """Decode a photo to an RGB uint8 HxWx3 array; truncation -> :class:`CorruptFileError`."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            # the pixel count was checked against max_pixels when the metadata was read, and
            # EXIF problems were reported then (JPEG parses EXIF again on open)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            with Image.open(path) as img:
                img.load()
                return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptFileError(f"truncated or corrupt image data ({exc})", path=path) from exc


def write_thumbnail(rgb: np.ndarray, detections: list[Detection], path: Path) -> None:
    """A small JPEG with the detections drawn (fire red, smoke blue) and their scores."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(rgb)
    scale = THUMB_MAX_SIDE / max(img.size)
    if scale < 1.0:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
    else:
        scale = 1.0
    draw = ImageDraw.Draw(img)
    for det in detections:
        colour = (255, 40, 40) if det.class_name == "fire" else (60, 140, 255)
        b = det.box
        draw.rectangle((b.x1 * scale, b.y1 * scale, b.x2 * scale, b.y2 * scale), outline=colour, width=2)
        draw.text(
            (b.x1 * scale + 2, max(0.0, b.y1 * scale - 11)), f"{det.class_name} {det.score:.2f}", fill=colour
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=80)


_DETECTOR: ImageDetector | None = None
_INIT_ERROR: str | None = None


def current_detector() -> ImageDetector | None:
    """The detector :func:`init_worker` built in this process (None: detection off).

    Raises :class:`DetectorUnavailableError` when building it failed, so a broken model is
    never mistaken for "detection off"."""
    if _INIT_ERROR is not None:
        raise DetectorUnavailableError(_INIT_ERROR)
    return _DETECTOR


def init_worker(factory: DetectorFactory | None) -> None:
    """Process-pool initializer: build the detector once per worker process.

    Never raises (an initializer that raises breaks the whole pool with no message); a
    failure is kept and raised by :func:`current_detector` for every file instead."""
    global _DETECTOR, _INIT_ERROR
    _DETECTOR, _INIT_ERROR = None, None
    if factory is None:
        return
    try:
        _DETECTOR = factory()
    except BurnwatchError as exc:
        _INIT_ERROR = f"the detector could not be loaded: {exc.message}"
    except Exception as exc:  # onnxruntime / torch errors: say what failed, stop the flight
        _INIT_ERROR = f"the detector could not be loaded: {exc!r}"


def process_photo(path: str, thumb_path: str, max_pixels: int, features: bool = False) -> PhotoOutcome:
    """Validate, decode, detect and thumbnail one photo (and find its SIFT keypoints when
    ``features``). Never raises for bad input."""
    t0 = time.perf_counter()
    out = PhotoOutcome(path=path)
    detector = current_detector()  # raises DetectorUnavailableError: the flight stops
    try:
        meta = read_photo_meta(Path(path), max_pixels=max_pixels, verify=False)
        out.meta = meta
        validate_meta(meta)
        rgb = load_rgb(Path(path))
        if detector is not None:
            name = Path(path).name
            out.detections = [
                Detection(d.class_id, d.class_name, d.score, d.box, image=name)
                for d in detector.detect_sliced(rgb)
            ]
        write_thumbnail(rgb, out.detections, Path(thumb_path))
        out.thumbnail = thumb_path
        if features:
            out.features = extract_features(rgb)
    except BurnwatchError as exc:
        out.error, out.error_type = exc.message, type(exc).__name__
    except Exception as exc:  # one bad photo (or detector failure) must not stop the flight
        out.error, out.error_type = f"{path}: unexpected error: {exc!r}", type(exc).__name__
    out.seconds = time.perf_counter() - t0
    return out
