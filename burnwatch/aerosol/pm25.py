"""PM2.5 from AOD: a log-linear calibration against ground monitors, time-blocked CV.

Model (after the "η" / AOD-PM2.5 regressions reviewed by Chu et al. 2016, Atmosphere 7(10)
129, and the humidity/boundary-layer corrections of Wang et al. 2010, GRL 37, L18805)::

    ln PM2.5 = a + b ln AOD + c f(RH) + d ln(BLH / 1000 m) + e sin(2π doy/365.25) + f cos(...)

with f(RH) = ln(1 / (1 - RH/100)) the hygroscopic growth term (RH %, clipped to 0-95) and BLH
the boundary-layer height in metres; terms without data are left out of the fit.  Fitted by
ordinary least squares; predictions on the µg/m³ scale use Duan's (1983) smearing factor.
Skill is reported by k-fold cross-validation with CONTIGUOUS TIME BLOCKS (and a gap of
``gap_days`` removed from training either side of each test block) so that autocorrelated
neighbouring days do not leak into the test fold.

Saved as JSON (never pickle): coefficients, feature names, metrics and training ranges.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from burnwatch.errors import CorruptFileError, InputError

log = logging.getLogger(__name__)

FORMAT = "burnwatch-pm25-calibration"
MIN_AOD = 0.01
MIN_PM = 1.0
MIN_AOD_VALID = -0.05  # retrievals a little below 0 are noise around clean air; below this, invalid
#: Hourly PM2.5 above this (µg/m³) is taken as a unit or logger error, not air.
MAX_PM = 2000.0


@dataclass(frozen=True, eq=False)
class Samples:
    """Paired observations: UTC times, AOD(550 nm), PM2.5 (µg/m³) and optional RH (%), BLH (m)."""

    times: np.ndarray  # datetime64[s]
    aod: np.ndarray
    pm25: np.ndarray
    rh: np.ndarray | None = None
    blh: np.ndarray | None = None

    def valid(self) -> Samples:
        """Only rows where every supplied variable is finite and plausible (see :meth:`screen`)."""
        return self.screen()[0]

    def screen(self) -> tuple[Samples, dict[str, int]]:
        """The usable rows, and how many rows were dropped for each reason (first reason only)."""
        checks = [
            (f"AOD missing or below {MIN_AOD_VALID:g}", np.isfinite(self.aod) & (self.aod > MIN_AOD_VALID)),
            ("PM2.5 missing or not positive", np.isfinite(self.pm25) & (self.pm25 > 0)),
            (f"PM2.5 above {MAX_PM:g} ug/m3 (implausible)", ~(self.pm25 > MAX_PM)),
        ]
        for label, extra in (("RH missing", self.rh), ("BLH missing", self.blh)):
            if extra is not None:
                checks.append((label, np.isfinite(extra)))
        ok = np.ones(len(self), dtype=bool)
        dropped: dict[str, int] = {}
        for label, good in checks:
            dropped[label] = int((ok & ~good).sum())
            ok &= good
        pick = lambda a: None if a is None else np.asarray(a)[ok]  # noqa: E731
        kept = Samples(self.times[ok], self.aod[ok], self.pm25[ok], pick(self.rh), pick(self.blh))
        return kept, {k: v for k, v in dropped.items() if v}

    def __len__(self) -> int:
        return int(self.aod.size)


def day_of_year(times: np.ndarray) -> np.ndarray:
    """Fractional day of year (1-366) of datetime64 values."""
    t = np.asarray(times, dtype="datetime64[s]")
    start = t.astype("datetime64[Y]").astype("datetime64[s]")
    return 1.0 + (t - start).astype(np.float64) / 86400.0


def _features(
    names: Sequence[str],
    times: np.ndarray,
    aod: np.ndarray,
    rh: np.ndarray | float | None,
    blh: np.ndarray | float | None,
) -> np.ndarray:
    doy = day_of_year(times) if np.size(times) else np.zeros(0)
    cols: list[np.ndarray] = []
    n = np.broadcast(np.asarray(aod), np.asarray(doy) if np.size(times) > 1 else 0).shape
    for name in names:
        if name == "ln_aod":
            cols.append(np.log(np.maximum(np.asarray(aod, dtype=np.float64), MIN_AOD)))
        elif name == "f_rh":
            if rh is None:
                raise InputError("this PM2.5 model needs relative humidity (--rh)")
            r = np.clip(np.asarray(rh, dtype=np.float64), 0.0, 95.0)
            cols.append(np.log(1.0 / (1.0 - r / 100.0)))
        elif name == "ln_blh":
            if blh is None:
                raise InputError("this PM2.5 model needs boundary-layer height (--blh)")
            cols.append(np.log(np.maximum(np.asarray(blh, dtype=np.float64), 50.0) / 1000.0))
        elif name == "sin_doy":
            cols.append(np.sin(2 * np.pi * doy / 365.25))
        elif name == "cos_doy":
            cols.append(np.cos(2 * np.pi * doy / 365.25))
        else:
            raise InputError(f"unknown PM2.5 model feature {name!r}")
    return np.stack([np.broadcast_to(c, n) for c in cols], axis=-1)


@dataclass(frozen=True)
class Metrics:
    """Skill on the µg/m³ scale: pooled out-of-fold R² and RMSE, plus in-sample values."""

    n: int
    folds: int
    gap_days: float
    cv_r2: float
    cv_rmse: float
    cv_bias: float
    train_r2: float
    train_rmse: float
    fold_r2: tuple[float, ...] = ()


@dataclass(frozen=True)
class CalibrationModel:
    """A fitted AOD -> PM2.5 relation (see module docstring)."""

    features: tuple[str, ...]
    intercept: float
    coef: tuple[float, ...]
    smearing: float
    metrics: Metrics | None = None
    calibrated: bool = True
    description: str = ""
    training: Mapping[str, Any] = field(default_factory=dict)

    def coefficient(self, name: str) -> float:
        return self.coef[self.features.index(name)]

    def predict(
        self,
        aod: np.ndarray | float,
        times: np.ndarray | np.datetime64,
        rh: np.ndarray | float | None = None,
        blh: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """PM2.5 (µg/m³) for AOD(550 nm); NaN where AOD is NaN (nothing is filled)."""
        a = np.asarray(aod, dtype=np.float64)
        t = np.asarray(times, dtype="datetime64[s]")
        x = _features(self.features, t, a, rh, blh)
        pm = np.exp(self.intercept + x @ np.asarray(self.coef)) * self.smearing
        return np.where(np.isfinite(a), pm, np.nan)

    # -- persistence -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": 1,
            "features": list(self.features),
            "intercept": self.intercept,
            "coef": list(self.coef),
            "smearing": self.smearing,
            "calibrated": self.calibrated,
            "description": self.description,
            "metrics": asdict(self.metrics) if self.metrics else None,
            "training": dict(self.training),
        }

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=_json_default) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> CalibrationModel:
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CorruptFileError(f"not a readable JSON model: {exc}", path=path) from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CorruptFileError(f"not a {FORMAT} file", path=path)
        try:
            m = doc.get("metrics")
            metrics = Metrics(**{**m, "fold_r2": tuple(m.get("fold_r2", ()))}) if m else None
            return cls(
                features=tuple(doc["features"]),
                intercept=float(doc["intercept"]),
                coef=tuple(float(c) for c in doc["coef"]),
                smearing=float(doc["smearing"]),
                metrics=metrics,
                calibrated=bool(doc.get("calibrated", True)),
                description=str(doc.get("description", "")),
                training=doc.get("training") or {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"model JSON is incomplete: {exc}", path=path) from exc

    @classmethod
    def uncalibrated_default(cls) -> CalibrationModel:
        """PM2.5 = 70 µg/m³ × AOD: a literature-order η, NOT fitted to any monitor.

        η of 50-100 µg/m³ per unit AOD is typical of East/South-East Asian boundary layers
        (van Donkelaar et al. 2010, Environ. Health Perspect. 118(6)); used only when no
        calibration model is given, and every output says ``calibrated: false``.
        """
        return cls(("ln_aod",), math.log(70.0), (1.0,), 1.0, None, False, "uncalibrated eta=70")


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, float]:
    design = np.column_stack([np.ones(len(y)), x])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ beta
    return float(beta[0]), beta[1:], float(np.mean(np.exp(resid)))


def _r2(obs: np.ndarray, pred: np.ndarray) -> float:
    ss_tot = float(np.sum((obs - obs.mean()) ** 2))
    return 1.0 - float(np.sum((obs - pred) ** 2)) / ss_tot if ss_tot > 0 else float("nan")


def time_blocks(times: np.ndarray, folds: int) -> list[np.ndarray]:
    """Indices of ``folds`` contiguous, equally sized blocks of samples ordered by time."""
    order = np.argsort(np.asarray(times, dtype="datetime64[s]"), kind="stable")
    return [b for b in np.array_split(order, folds) if b.size]


def fit(
    samples: Samples,
    *,
    folds: int = 5,
    gap_days: float = 3.0,
    seasonal: bool = True,
    description: str = "",
) -> CalibrationModel:
    """Fit the calibration on ``samples`` and cross-validate it with time-blocked folds."""
    s = samples.valid()
    features = ["ln_aod"]
    if s.rh is not None:
        features.append("f_rh")
    if s.blh is not None:
        features.append("ln_blh")
    if seasonal:
        features += ["sin_doy", "cos_doy"]
    if len(s) < max(10, 3 * (len(features) + 1)):
        raise InputError(
            f"only {len(s)} valid AOD/PM2.5 pairs; need at least {max(10, 3 * (len(features) + 1))}"
        )
    if folds < 2 or folds > len(s) // 3:
        raise InputError(f"folds must be between 2 and {len(s) // 3}, got {folds}")
    x = _features(features, s.times, s.aod, s.rh, s.blh)
    y = np.log(np.maximum(s.pm25, MIN_PM))
    t_sec = s.times.astype("datetime64[s]").astype(np.int64)

    oof = np.full(len(s), np.nan)
    fold_r2 = []
    for test in time_blocks(s.times, folds):
        lo, hi = t_sec[test].min() - gap_days * 86400, t_sec[test].max() + gap_days * 86400
        train = (t_sec < lo) | (t_sec > hi)
        if train.sum() <= len(features) + 1:
            raise InputError("too few samples outside a test block to fit; lower --folds or --gap-days")
        a, b, smear = _ols(x[train], y[train])
        oof[test] = np.exp(a + x[test] @ b) * smear
        fold_r2.append(_r2(s.pm25[test], oof[test]))
    a, b, smear = _ols(x, y)
    fitted = np.exp(a + x @ b) * smear
    metrics = Metrics(
        n=len(s),
        folds=folds,
        gap_days=gap_days,
        cv_r2=_r2(s.pm25, oof),
        cv_rmse=float(np.sqrt(np.mean((oof - s.pm25) ** 2))),
        cv_bias=float(np.mean(oof - s.pm25)),
        train_r2=_r2(s.pm25, fitted),
        train_rmse=float(np.sqrt(np.mean((fitted - s.pm25) ** 2))),
        fold_r2=tuple(float(r) for r in fold_r2),
    )
    training = {
        "aod_range": [float(np.min(s.aod)), float(np.max(s.aod))],
        "pm25_range": [float(np.min(s.pm25)), float(np.max(s.pm25))],
        "time_range": [str(s.times.min()), str(s.times.max())],
    }
    log.info("PM2.5 calibration: n=%d CV R2=%.3f RMSE=%.1f", len(s), metrics.cv_r2, metrics.cv_rmse)
    return CalibrationModel(
        tuple(features), a, tuple(float(c) for c in b), smear, metrics, True, description, training
    )
