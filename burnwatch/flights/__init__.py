"""Drone flights: ingest a flight, detect fire/smoke per photo, place every find on the ground."""

from burnwatch.flights.ingest import FileReport, FlightResult, ingest_flight

__all__ = ["FileReport", "FlightResult", "ingest_flight"]
