"""/docs and /redoc with their assets served by attain itself: on the bureau's intranet no CDN is reachable."""

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

VENDOR = "/static/vendor"
FAVICON = "/static/favicon.svg"


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """Swagger UI from the vendored swagger-ui-dist."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="attain — API", swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css", swagger_favicon_url=FAVICON,
        # No validator badge: it would send the schema to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    """ReDoc from the vendored standalone bundle, without Google Fonts."""
    return get_redoc_html(openapi_url="/openapi.json", title="attain — API",
                          redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js", redoc_favicon_url=FAVICON,
                          with_google_fonts=False)
