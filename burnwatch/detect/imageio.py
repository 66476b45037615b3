"""Safe image loading for the detector: one clear error per bad file.

Corrupt, truncated or non-image files raise :class:`~burnwatch.errors.CorruptFileError`; images
whose pixel count exceeds ``max_pixels`` (decompression bombs) raise
:class:`~burnwatch.errors.TooLargeError` *before* the pixels are decoded. Both name the file.

``max_pixels`` is the only limit: Pillow's own decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``,
89.5 Mpx by default, an error above twice that) is raised to ``max_pixels`` while a file is read
and restored afterwards, under a lock, so a 100 Mpx drone photo is read and the error for a
larger one quotes burnwatch's limit.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from burnwatch.errors import CorruptFileError, TooLargeError

#: Default pixel limit: a 100-megapixel photo is the largest a drone camera produces.
MAX_PIXELS = 120_000_000

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})

_PILLOW_LIMIT_LOCK = threading.Lock()


@contextmanager
def _pillow_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's bomb limit at least ``max_pixels`` (and its warning silenced) inside the block.

    burnwatch checks ``max_pixels`` itself from the header; the module-wide Pillow setting is
    restored on exit, and the lock keeps concurrent reads from restoring each other's value.
    """
    from PIL import Image

    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        if saved is not None and saved < max_pixels:
            Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _too_large(pixels: str, max_pixels: int, path: Path) -> TooLargeError:
    return TooLargeError(f"image is {pixels} pixels, more than the limit {max_pixels}", path=path)


def read_rgb(path: Path | str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), EXIF orientation applied.

    Grey and palette images are converted to RGB; 16-bit images are scaled to 8 bit.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise CorruptFileError("file not found", path=path)
    try:
        with _pillow_limit(max_pixels), Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise _too_large(f"{w}x{h} = {w * h}", max_pixels, path)
            upright = ImageOps.exif_transpose(im)
            if upright.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(upright, dtype=np.float32)
                arr = np.clip(arr / max(float(arr.max()), 1.0) * 255, 0, 255).astype(np.uint8)
                return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=2))
            rgb = np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except TooLargeError:
        raise
    except Image.DecompressionBombError as exc:  # more than twice max_pixels: Pillow refused first
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(found.group(1) if found else f"over {2 * max_pixels}", max_pixels, path) from exc
    except (UnidentifiedImageError, ImportError) as exc:
        # ImportError: ultralytics patches Image.open to retry unknown files with pi-heif
        raise CorruptFileError("not an image file (format not recognised)", path=path) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptFileError(f"cannot decode image: {exc}", path=path) from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise CorruptFileError(f"unexpected image shape {rgb.shape}", path=path)
    return np.ascontiguousarray(rgb)


def is_image_path(path: Path) -> bool:
    """True when ``path``'s suffix is one the detector reads (case-insensitive)."""
    return path.suffix.lower() in IMAGE_SUFFIXES
