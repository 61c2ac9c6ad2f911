"""/docs and /redoc from the package's own copies of Swagger UI and ReDoc (fastapi-offline), so
they work on a host with no internet, a call centre's usual; and what the schema says beyond
the routes: the API key as a bearer token (the Authorize button), and the error answers."""

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

_STATIC = Path(fastapi_offline.__file__).parent / "static"
_ASSETS = "/docs-assets"


class ErrorDetail(BaseModel):
    type: str = Field(description="bad_input, unauthorized, forbidden, not_found, too_large, rate_limited, ...")
    message: str = Field(description="What was wrong, naming the field, line or limit.")
    line: int | None = Field(None, description="The script's line the problem is on, where there is one.")


class ErrorOut(BaseModel):
    """Every error answer's body."""

    error: ErrorDetail = Field(description="What went wrong.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad input: the message names the field or line."},
    401: {"model": ErrorOut, "description": "No API key, or an unknown or revoked one."},
    404: {"model": ErrorOut, "description": "No such id for this tenant."},
    413: {"model": ErrorOut, "description": "Over a limit (a text, a script, a body); the message names it."},
    422: {"model": ErrorOut, "description": "The body or a parameter does not fit the schema."},
    429: {"model": ErrorOut, "description": "Over the tenant's rate limit or daily quota; Retry-After says when."},
    503: {"model": ErrorOut, "description": "An engine or the database is unavailable; try again."},
}


def audio_responses(media_types: Any) -> dict[int | str, dict[str, Any]]:
    """A 200 whose body is audio in one of `media_types`, for a route's `responses`."""
    types = sorted(set(media_types))
    return {
        200: {"description": "The audio, saved by its Content-Disposition name.", "content": {t: {} for t in types}}
    }


def install_docs(app: FastAPI) -> None:
    app.mount(_ASSETS, StaticFiles(directory=_STATIC), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_ASSETS}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            redoc_js_url=f"{_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{_ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key (`voxq keys create`)."}
            }
            spec["security"] = [{"apiKey": []}]  # every route but those that say otherwise (/health)
            for operations in spec["paths"].values():
                for operation in operations.values():
                    # The summary a reader scans: the docstring's first sentence, not "Create Batch".
                    first = (operation.get("description") or "").split("\n\n")[0].replace("\n", " ")
                    summary = first.split(". ")[0].rstrip(".")
                    if len(summary) > 100:  # at a clause, not mid-word
                        summary = summary[: max(summary.rfind("; ", 0, 100), summary.rfind(", ", 0, 100), 40)]
                    if summary:
                        operation["summary"] = summary
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
