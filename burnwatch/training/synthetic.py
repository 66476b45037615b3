"""Synthetic aerial fire/smoke composites for training: flames and smoke plumes on nadir scenes.

The real training set is ground-level; users look down from drones. This module composites

* **flames**, either cut from real labelled fire boxes (a colour mask of hot pixels gives the
  alpha) or rendered procedurally (noise-displaced flame tongues / ground-fire blobs coloured by a
  black-body-like ramp white-yellow -> orange -> red),
* **smoke plumes**, rendered procedurally as a Gaussian plume (Pasquill-Gifford style: the
  crosswind sigma grows linearly downwind) whose axis is sheared by a wind that turns with
  distance, modulated by fractal (fBm) value noise and fading with distance,

onto backgrounds: crops of real drone photos or procedural paddy-field mosaics (plots of green,
yellow stubble, brown soil and water, with planting rows). Every box is the bounding box of the
*visible* alpha above :data:`ALPHA_THRESHOLD`, so labels match what is drawn. Everything is in
pixels of the output image; classes follow the dataset: 0 fire, 1 smoke.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ALPHA_THRESHOLD = 0.25
#: Thin smoke is barely visible; its box covers the plume where alpha exceeds this.
SMOKE_THRESHOLD = 0.45
FIRE, SMOKE = 0, 1
Array = np.ndarray


@dataclass(frozen=True)
class LabeledBox:
    """A class id and a pixel box (x1, y1, x2, y2), x right, y down."""

    class_id: int
    x1: int
    y1: int
    x2: int
    y2: int

    def yolo(self, width: int, height: int) -> str:
        """The YOLO label line: class cx cy w h, normalised to 0-1."""
        cx = (self.x1 + self.x2) / 2 / width
        cy = (self.y1 + self.y2) / 2 / height
        return (f"{self.class_id} {cx:.6f} {cy:.6f} "
                f"{(self.x2 - self.x1) / width:.6f} {(self.y2 - self.y1) / height:.6f}")


def fbm_noise(h: int, w: int, rng: np.random.Generator, octaves: int = 5,
              base: int = 4, persistence: float = 0.55) -> Array:
    """Fractal Brownian motion value noise in [0, 1], shape (h, w), float32."""
    import cv2

    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base * 2**o
        grid = rng.random((max(2, cells * h // max(h, w) + 2), max(2, cells * w // max(h, w) + 2)))
        out += amp * cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / (hi - lo + 1e-6)


def paddy_background(size: int, rng: np.random.Generator) -> Array:
    """A procedural nadir view of paddy fields: RGB uint8 (size, size, 3)."""
    import cv2

    palette = np.array([
        [70, 120, 50], [95, 140, 60], [120, 150, 70],  # growing rice
        [170, 150, 90], [190, 170, 110], [150, 130, 80],  # straw stubble
        [110, 90, 70], [90, 75, 60],  # bare soil
        [80, 95, 95], [100, 115, 110],  # flooded plots
    ], np.float32)
    img = np.zeros((size, size, 3), np.float32)
    angle = rng.uniform(-30, 30)
    y = 0
    while y < size:
        ph = int(rng.integers(size // 10, size // 3))
        x = 0
        while x < size:
            pw = int(rng.integers(size // 8, size // 2))
            colour = palette[rng.integers(len(palette))] * rng.uniform(0.85, 1.15)
            img[y:y + ph, x:x + pw] = colour
            x += pw
        y += ph
    rows = (np.sin(np.arange(size) * 2 * np.pi / rng.uniform(4, 9)) * 8).astype(np.float32)
    img += rows[None, :, None]
    img *= (0.85 + 0.3 * fbm_noise(size, size, rng))[..., None]
    for _ in range(int(rng.integers(1, 4))):  # bunds and dirt tracks
        p = int(rng.integers(0, size))
        cv2.line(img, (0, p), (size, p + int(rng.integers(-size // 4, size // 4))),
                 (150, 135, 105), int(rng.integers(2, 6)))
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.3)
    img = np.asarray(cv2.warpAffine(img, m, (size, size), borderMode=cv2.BORDER_REFLECT),
                     np.float32)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def photo_background(path: Path, size: int, rng: np.random.Generator) -> Array:
    """A random square crop of a photo (any scale 1/6-1/2 of its short side), resized: RGB uint8."""
    import cv2

    from burnwatch.detect.imageio import read_rgb

    img = read_rgb(path)
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.3, 1.0))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = img[y:y + side, x:x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))


def _flame_colour(heat: Array) -> Array:
    """Map heat 0-1 to RGB float (0-255): red -> orange -> yellow -> near white."""
    stops = np.array([0.0, 0.35, 0.7, 1.0], np.float32)
    cols = np.array([[170, 30, 5], [245, 110, 20], [255, 200, 60], [255, 250, 210]], np.float32)
    return np.stack([np.interp(heat, stops, cols[:, c]) for c in range(3)], -1)


def render_flame(h: int, w: int, rng: np.random.Generator, nadir: bool | None = None
                 ) -> tuple[Array, Array]:
    """A procedural flame patch: (RGB float32 (h, w, 3), alpha float32 (h, w) in 0-1).

    ``nadir`` True renders a ground-fire blob seen from above (irregular patch, hot core),
    False a side-view flame with tongues rising; None picks at random.
    """
    if nadir is None:
        nadir = bool(rng.random() < 0.5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xx + 0.5) / w * 2 - 1  # -1..1 across
    v = (yy + 0.5) / h  # 0 top .. 1 bottom
    n1 = fbm_noise(h, w, rng, octaves=4, base=3)
    n2 = fbm_noise(h, w, rng, octaves=4, base=6)
    if nadir:
        r = np.sqrt(u**2 + (v * 2 - 1) ** 2)
        shape = 1.0 - r + 0.6 * (n1 - 0.5)
        heat = np.clip(shape * 1.6 + 0.3 * (n2 - 0.5), 0, 1)
    else:
        t = 1 - v  # height above base, 0..1
        width = np.clip(np.sin(np.pi * np.clip(v, 0, 1) ** 0.7), 0, 1) * 0.9
        sway = 0.35 * (n1 - 0.5) * t
        shape = width - np.abs(u - sway) + 0.45 * (n2 - 0.5) * t
        heat = np.clip(shape * 2.2 * (1 - 0.5 * t) + 0.25 * (1 - t), 0, 1)
    alpha = np.clip(shape * 5, 0, 1).astype(np.float32)
    rgb = _flame_colour(heat).astype(np.float32)
    return rgb, alpha


def render_smoke(h: int, w: int, rng: np.random.Generator, source: tuple[float, float],
                 wind_deg: float, length: float, density: float) -> Array:
    """Smoke-plume alpha (h, w) in 0-1 from ``source`` (x, y px) blowing toward ``wind_deg``.

    Gaussian plume: crosswind sigma = s0 + k*d grows with downwind distance d (pixels); the axis
    bends quadratically (wind shear, veering with height); the column decays as
    exp(-d/length) and is modulated by fBm noise for billows.
    """
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    th = np.deg2rad(wind_deg)
    dx, dy = xx - source[0], yy - source[1]
    d = dx * np.cos(th) + dy * np.sin(th)  # downwind
    c = -dx * np.sin(th) + dy * np.cos(th)  # crosswind
    shear = rng.uniform(-1.0, 1.0) / max(length, 1.0)
    c = c - shear * np.clip(d, 0, None) ** 2 * 0.5
    s0 = rng.uniform(2, 6)
    sigma = s0 + rng.uniform(0.12, 0.35) * np.clip(d, 0, None)
    plume = np.exp(-0.5 * (c / sigma) ** 2) * np.exp(-np.clip(d, 0, None) / length)
    plume *= 1 / (1 + np.exp(-(d + s0) / max(s0, 1)))  # soft start at the source
    noise = fbm_noise(h, w, rng, octaves=5, base=int(rng.integers(3, 8)))
    alpha = density * plume * (0.3 + 1.1 * noise**1.5)
    return np.clip(alpha, 0, 1).astype(np.float32)


def _box_from_alpha(alpha: Array, class_id: int, x0: int = 0, y0: int = 0,
                    min_px: int = 6, threshold: float = ALPHA_THRESHOLD) -> LabeledBox | None:
    ys, xs = np.nonzero(alpha > threshold)
    if len(xs) == 0:
        return None
    x1, x2, y1, y2 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    if x2 - x1 < min_px or y2 - y1 < min_px:
        return None
    return LabeledBox(class_id, x0 + x1, y0 + y1, x0 + x2, y0 + y2)


def fire_cutouts(images: Sequence[Path], labels_dir: Path, limit: int = 400,
                 rng: np.random.Generator | None = None) -> list[tuple[Array, Array]]:
    """Flame cut-outs (RGB float32, alpha float32) from fire boxes of a YOLO-labelled image set.

    The alpha is a soft mask of hot-coloured pixels (bright, red > green > blue); boxes where
    fewer than 15 % of pixels qualify are skipped.
    """
    import cv2

    from burnwatch.detect.imageio import read_rgb
    from burnwatch.errors import InputError

    rng = rng or np.random.default_rng(0)
    out: list[tuple[Array, Array]] = []
    for i in rng.permutation(len(images)):
        if len(out) >= limit:
            break
        img_path = images[int(i)]
        lab = labels_dir / f"{img_path.stem}.txt"
        if not lab.is_file():
            continue
        try:
            img = read_rgb(img_path)
        except InputError:
            continue
        h, w = img.shape[:2]
        for line in lab.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5 or parts[0] != "0":
                continue
            cx, cy, bw, bh = (float(p) for p in parts[1:])
            x1, y1 = int((cx - bw / 2) * w), int((cy - bh / 2) * h)
            x2, y2 = int((cx + bw / 2) * w), int((cy + bh / 2) * h)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            if x2 - x1 < 12 or y2 - y1 < 12:
                continue
            crop = img[y1:y2, x1:x2]
            hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV).astype(np.float32)
            hue, sat, val = hsv[..., 0] * 2, hsv[..., 1] / 255, hsv[..., 2] / 255
            hot = ((hue <= 65) & (sat > 0.3) & (val > 0.55)).astype(np.uint8)
            # white-hot cores only where they touch coloured flame
            near = cv2.dilate(hot, np.ones((5, 5), np.uint8)) > 0
            core = (val > 0.9) & (sat <= 0.3) & near
            mask = (hot > 0) | core
            frac = float(mask.mean())
            if frac < 0.15 or frac > 0.85 or float(hot.mean()) < 0.08:
                continue
            soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)
            out.append((crop.astype(np.float32), np.clip(soft * 1.2, 0, 1)))
    return out


def composite(bg: Array, rng: np.random.Generator,
              cutouts: Sequence[tuple[Array, Array]] = (),
              n_fires: int | None = None, smoke_prob: float = 0.7) -> tuple[Array, list[LabeledBox]]:
    """Composite 1-4 fires (each with a smoke plume with probability ``smoke_prob``) onto ``bg``.

    Returns the RGB uint8 image and the labelled boxes (fire class 0, smoke class 1).
    """
    import cv2

    h, w = bg.shape[:2]
    img = bg.astype(np.float32)
    boxes: list[LabeledBox] = []
    n_fires = n_fires if n_fires is not None else int(rng.integers(1, 4))
    wind = rng.uniform(0, 360)
    flames: list[tuple[Array, Array, int, int]] = []
    for _ in range(n_fires):
        fh = int(rng.uniform(0.04, 0.22) * h)
        fw = int(fh * rng.uniform(0.6, 1.6))
        fh, fw = max(fh, 8), max(fw, 8)
        pick = cutouts[int(rng.integers(len(cutouts)))] if cutouts else None
        # cut-outs are only shrunk or mildly enlarged (blocky upscaled flames look fake)
        if pick is not None and rng.random() < 0.5 and pick[1].shape[0] * 1.5 >= fh:
            crgb, calpha = pick
            frgb = cv2.resize(crgb, (fw, fh), interpolation=cv2.INTER_AREA)
            falpha = cv2.resize(calpha, (fw, fh), interpolation=cv2.INTER_AREA)
        else:
            frgb, falpha = render_flame(fh, fw, rng)
        x0 = int(rng.integers(0, max(w - fw, 1)))
        y0 = int(rng.integers(0, max(h - fh, 1)))
        flames.append((frgb, falpha, x0, y0))
        if rng.random() < smoke_prob:
            src = (x0 + fw / 2, y0 + fh / 2)
            length = rng.uniform(0.25, 0.9) * max(h, w)
            alpha = render_smoke(h, w, rng, src, wind + rng.normal(0, 10), length,
                                 rng.uniform(1.0, 1.8))
            tone = rng.uniform(140, 245)
            colour = np.array([tone, tone * rng.uniform(0.95, 1.0), tone * rng.uniform(0.9, 1.0)],
                              np.float32)
            img = img * (1 - alpha[..., None]) + colour * alpha[..., None]
            box = _box_from_alpha(alpha, SMOKE, min_px=12, threshold=SMOKE_THRESHOLD)
            if box is not None:
                boxes.append(box)
    for frgb, falpha, x0, y0 in flames:
        fh, fw = falpha.shape
        region = img[y0:y0 + fh, x0:x0 + fw]
        a = falpha[: region.shape[0], : region.shape[1], None]
        glow = cv2.GaussianBlur(falpha, (0, 0), max(fw, fh) / 6)[: region.shape[0], : region.shape[1]]
        region += glow[..., None] * np.array([60, 25, 0], np.float32)
        region[:] = region * (1 - a) + frgb[: region.shape[0], : region.shape[1]] * a
        box = _box_from_alpha(falpha[: region.shape[0], : region.shape[1]], FIRE, x0, y0)
        if box is not None:
            boxes.append(box)
    return np.clip(img, 0, 255).astype(np.uint8), boxes


def write_synthetic(out_dir: Path, n: int, size: int, seed: int = 0,
                    backgrounds: Sequence[Path] = (),
                    cutouts: Sequence[tuple[Array, Array]] = ()) -> Path:
    """Write ``n`` composites as a YOLO split: ``out_dir/images/train``, ``out_dir/labels/train``.

    Backgrounds alternate between crops of ``backgrounds`` (photos) and procedural paddies.
    Returns ``out_dir/images/train``.
    """
    from PIL import Image

    img_dir = out_dir / "images" / "train"
    lab_dir = out_dir / "labels" / "train"
    img_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        if backgrounds and rng.random() < 0.6:
            bg = photo_background(backgrounds[int(rng.integers(len(backgrounds)))], size, rng)
        else:
            bg = paddy_background(size, rng)
        img, boxes = composite(bg, rng, cutouts)
        name = f"synth_{seed}_{i:05d}"
        Image.fromarray(img).save(img_dir / f"{name}.jpg", quality=90)
        (lab_dir / f"{name}.txt").write_text(
            "".join(b.yolo(size, size) + "\n" for b in boxes))
    return img_dir


def build_augmented_dataset(data: Path, out_dir: Path, n: int, backgrounds: Sequence[Path],
                            size: int = 640, seed: int = 0, cutout_limit: int = 400,
                            reuse: bool = False) -> Path:
    """Real dataset ``data`` (YOLO YAML) + ``n`` synthetic composites -> a new dataset YAML.

    Flame cut-outs come from the real *train* split only. The validation split is unchanged.
    ``reuse`` keeps an existing synthetic set of the same size in ``out_dir`` (same seed assumed).
    """
    import yaml

    from burnwatch.training.train import resolve_dataset_yaml

    real = yaml.safe_load(resolve_dataset_yaml(data, out_dir).read_text())
    root = Path(real["path"])
    train_dir = root / str(real["train"])
    label_dir = Path(str(train_dir).replace("/images/", "/labels/"))
    images = sorted(p for p in train_dir.iterdir() if p.suffix.lower() in {".jpg", ".png", ".jpeg"})
    synth = out_dir / "images" / "train"
    if not (reuse and synth.is_dir() and sum(1 for _ in synth.glob("*.jpg")) == n):
        cut = fire_cutouts(images, label_dir, limit=cutout_limit, rng=np.random.default_rng(seed))
        log.info("%d flame cut-outs from %s", len(cut), train_dir)
        synth = write_synthetic(out_dir, n, size, seed, backgrounds, cut)
    cfg = {"path": str(root), "train": [str(train_dir), str(synth)],
           "val": str(root / str(real["val"])), "names": real["names"]}
    out = out_dir / "data.yaml"
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out
