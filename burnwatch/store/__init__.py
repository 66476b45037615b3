"""The hotspot database: models, migrations, idempotent ingest and queries."""
