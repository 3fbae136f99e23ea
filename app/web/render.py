"""Jinja2 rendering with the page helpers, and the headers every page carries."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.domain.catalog import CITY
from app.web import present

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")  # autoescape on: names are data, never markup
templates.env.globals.update(
    STATUS=present.STATUS, STATUS_ORDER=present.STATUS_ORDER, BEHIND=present.BEHIND, DELIVERABLE=present.DELIVERABLE,
    LIGHT=present.LIGHT,
    COMPLETENESS=present.COMPLETENESS, KIND=present.KIND, TREND=present.TREND, CITY=CITY, number=present.number,
    with_unit=present.with_unit, ratio=present.ratio, op_word=present.op_word, why=present.why,
    unit_word=present.MEASURE_UNIT,
)

# Pages load scripts, styles and images from this origin only; the browser refuses anything else.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render(request: Request, template: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    """A page with the security headers."""
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response
