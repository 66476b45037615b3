"""Raster layers for the map (PNG overlays rendered from COGs under ``<data_dir>/layers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from burnwatch.api.auth import ALL_ROLES, allow
from burnwatch.api.rasters import find_layer, list_layers, render_png

router = APIRouter(tags=["layers"])


def layers_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir) / "layers"


@router.get("/api/layers", dependencies=[allow(*ALL_ROLES)])
async def layers(request: Request) -> list[dict[str, Any]]:
    """Raster layers with their WGS84 bounds ``[[south, west], [north, east]]`` and PNG URL."""
    out = []
    for layer in list_layers(layers_dir(request)):
        _, (w, s, e, n) = await run_in_threadpool(render_png, layer.path, layer.kind)
        out.append(
            {
                "name": layer.name,
                "kind": layer.kind,
                "bounds": [[s, w], [n, e]],
                "url": f"/api/layers/{layer.name}.png",
            }
        )
    return out


@router.get("/api/layers/{name}.png", dependencies=[allow(*ALL_ROLES)])
async def layer_png(name: str, request: Request) -> Response:
    layer = find_layer(layers_dir(request), name)
    png, _ = await run_in_threadpool(render_png, layer.path, layer.kind)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})
