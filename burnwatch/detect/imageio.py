"""Safe image loading for the detector: one clear error per bad file.

Corrupt, truncated or non-image files raise :class:`~burnwatch.errors.CorruptFileError`; images
whose pixel count exceeds ``max_pixels`` (decompression bombs) raise
:class:`~burnwatch.errors.TooLargeError` *before* the pixels are decoded. Both name the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from burnwatch.errors import CorruptFileError, TooLargeError

#: Default pixel limit: a 100-megapixel photo is the largest a drone camera produces.
MAX_PIXELS = 120_000_000

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})


def read_rgb(path: Path | str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), EXIF orientation applied.

    Grey and palette images are converted to RGB; 16-bit images are scaled to 8 bit.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise CorruptFileError("file not found", path=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise TooLargeError(
                        f"image is {w}x{h} = {w * h} pixels, more than the limit {max_pixels}",
                        path=path)
                upright = ImageOps.exif_transpose(im)
                if upright.mode in ("I;16", "I;16B", "I;16L", "I"):
                    arr = np.asarray(upright, dtype=np.float32)
                    arr = np.clip(arr / max(float(arr.max()), 1.0) * 255, 0, 255).astype(np.uint8)
                    return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=2))
                rgb = np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except TooLargeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLargeError(f"image too large (decompression bomb?): {exc}", path=path) from exc
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
