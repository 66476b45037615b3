"""The web app and API (FastAPI): ``create_app(settings)``; ``burnwatch serve`` runs it."""

from __future__ import annotations

from burnwatch.api.app import create_app

__all__ = ["create_app"]
