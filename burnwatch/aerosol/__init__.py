"""Aerosol optical depth (AOD) retrieval, PM2.5 calibration, map layers and smoke attribution.

Data flow: a Sentinel-2 L1C :class:`~burnwatch.types.Scene` (or a provider product) ->
:func:`burnwatch.aerosol.retrieval.retrieve_aod` (dark-dense-vegetation AOD at 550 nm on a
200 m grid) -> :class:`burnwatch.aerosol.pm25.CalibrationModel` (PM2.5, µg/m³) ->
:mod:`burnwatch.aerosol.layers` (Cloud-Optimised GeoTIFFs, VN_AQI colours) and
:func:`burnwatch.aerosol.plume.attribute_smoke` (plumes downwind of burning incidents).
"""
