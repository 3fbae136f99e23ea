"""Catalog look-ups a request can get wrong: each answers the catalog's entry or a problem (404/422)."""

from app.domain.catalog import Catalog, IndicatorRow
from app.domain.text import echo
from app.errors import NotFound, Unprocessable
from app.i18n import _


def indicator_or_404(catalog: Catalog, code: str) -> IndicatorRow:
    """The indicator with this code, or 404."""
    found = catalog.indicators.get(code)
    if found is None:
        raise NotFound(_("No indicator '{code}'. The list is at /api/v1/indicators.", code=echo(code)))
    return found


def department_or_422(catalog: Catalog, text: str) -> str:
    """A department code from its code, name or alias, or 422."""
    code = catalog.resolve_department(text)
    if code is None:
        raise Unprocessable(
            _("Unknown department '{text}'. Use a code, a name or an alias listed at /api/v1/departments.",
              text=echo(text)),
            errors=[{"location": "query.department", "message": "unknown department"}],
        )
    return code


def unit_code_or_422(catalog: Catalog, text: str, *, location: str = "query.unit") -> str:
    """The current code of a unit given by code, name or alias; unknown or retired units are 422."""
    found = catalog.resolve_unit(text)
    if found is None or found.code in catalog.retired:
        detail = catalog.retired_message(catalog.retired[found.code]) if found else _("Unknown unit '{text}'.",
                                                                                       text=echo(text))
        raise Unprocessable(detail, errors=[{"location": location, "message": str(detail)}])
    return found.code
