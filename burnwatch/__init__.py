"""burnwatch: find open burning from satellites and drones and turn each find into a hotspot.

The data flow is visible in the sub-packages: ``sources`` (fetch) -> ``detect`` ->
``georef`` -> ``store``/``incidents`` -> ``publish``/``api``. Importing this package has no
side effects: heavy libraries (torch, ultralytics, sentinelhub, rasterio) are imported where
they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
