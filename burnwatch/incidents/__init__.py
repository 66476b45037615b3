"""Incidents: clustering hotspots into burning events, admin attribution, the static
heat-source register, the enforcement case workflow, exports and reports."""
