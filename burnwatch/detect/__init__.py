"""Detection: pixels -> detections (spectral active-fire tests, fire simulator, exclusions)."""
