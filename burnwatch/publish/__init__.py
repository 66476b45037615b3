"""Publishing: turn hotspots and rasters into files people and GIS tools open.

* :mod:`burnwatch.publish.vector` - hotspot GeoJSON (RFC 7946) / GeoPackage I/O
* :mod:`burnwatch.publish.cog` - Cloud-Optimised GeoTIFFs (fire class map, AOD/PM2.5)
* :mod:`burnwatch.publish.quicklook` - true/false-colour PNG quicklooks and mask overlays
* :mod:`burnwatch.publish.webmap` - offline folium hotspot maps
* :mod:`burnwatch.publish.assets` - the vendored Leaflet/Bootstrap/... files those maps load
* :mod:`burnwatch.publish.manifest` - run manifests (inputs, parameters, versions, sha256)

Submodules are imported on demand; importing this package loads nothing heavy.
"""
