"""The API documentation, served by the hub itself: Swagger UI's assets come from the
``swagger-ui-py`` package installed with the hub (no CDN, works offline), started by a script
file of the hub's own (the CSP allows no inline script). The OpenAPI document carries a Bearer
security scheme so that "Authorize" works."""

from __future__ import annotations

from pathlib import Path

import swagger_ui  # type: ignore[import-untyped]
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(swagger_ui.__file__).parent / "static"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>svu-hub ops API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
});
"""


def router(app: FastAPI) -> APIRouter:
    """``/docs`` (Swagger UI), its assets under ``/docs/static``."""
    app.mount("/docs/static", StaticFiles(directory=str(ASSETS)), name="docs-static")
    api = APIRouter(include_in_schema=False)

    @api.get("/docs", response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @api.get("/docs/init.js")
    def init() -> Response:
        return Response(INIT, media_type="text/javascript; charset=utf-8")

    return api
