"""/docs and /redoc with their assets served by attain itself: on the bureau's intranet no CDN is reachable.

They carry the pages' security headers too, with the few sources these two bundles need beside 'self': Swagger
UI's one inline start-up script (allowed by its hash, so no other inline script runs) and ReDoc's search worker,
which it starts from a blob: URL.
"""

import base64
import hashlib
import re

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.web.render import SECURITY_HEADERS

router = APIRouter(include_in_schema=False)

VENDOR = "/static/vendor"
FAVICON = "/static/favicon.svg"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _with_headers(page: HTMLResponse) -> HTMLResponse:
    """The page with the security headers; its own inline scripts (and only those) allowed by hash."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in _INLINE_SCRIPT.findall(bytes(page.body).decode()))
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "script-src 'self'", f"script-src 'self' {hashes}".rstrip()) + "; worker-src 'self' blob:"
    page.headers.update({**SECURITY_HEADERS, "Content-Security-Policy": policy})
    return page


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """Swagger UI from the vendored swagger-ui-dist."""
    return _with_headers(get_swagger_ui_html(
        openapi_url="/openapi.json", title="attain — API", swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css", swagger_favicon_url=FAVICON,
        # No validator badge: it would send the schema to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    ))


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    """ReDoc from the vendored standalone bundle, without Google Fonts."""
    return _with_headers(get_redoc_html(openapi_url="/openapi.json", title="attain — API",
                                        redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js", redoc_favicon_url=FAVICON,
                                        with_google_fonts=False))
