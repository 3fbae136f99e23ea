"""The clerk's template: GET /templates?unit=&period= → an .xlsx to fill in and POST back."""

from fastapi import APIRouter, Query, Response

from app.api.deps import Catalogs, Reader, SessionDep
from app.domain.workbook import XLSX
from app.services import templates

router = APIRouter(tags=["clerk's desk"])


@router.get("/templates", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "The template workbook"}, 422: {}})
async def get_template(
    session: SessionDep,
    catalogs: Catalogs,
    caller: Reader,
    unit: str | None = Query(default=None, max_length=64, description="Code, name or alias; a district key's own "
                                                                      "unit by default"),
    period: str | None = Query(default=None, max_length=16, description="A period label; last year by default"),
) -> Response:
    """The .xlsx template: sheet 填报 (one row per indicator to report) and sheet 说明 (what each one means)."""
    catalog = await catalogs.snapshot(session)
    made = await templates.build(session, catalog, caller, unit=unit, period=period)
    return Response(made.body, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{made.filename}"'})
