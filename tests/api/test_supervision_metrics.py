"""The supervision metric families: deliverables by light, extension requests by state, overdue progress."""

from datetime import date
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.deliverable_helpers import department_key
from tests.api.supervision_helpers import DEPARTMENT, extend, patch, progress, today
from tests.conftest import Keys


async def _samples(client: httpx.AsyncClient, keys: Keys) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = await client.get("/metrics", headers=keys.auth(keys.scraper))
    assert r.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(r.text) for s in f.samples}


async def test_lights_requests_and_overdue_progress_are_counted(app_ctx: Any, client: httpx.AsyncClient,
                                                               keys: Keys) -> None:
    mine = await department_key(app_ctx, DEPARTMENT)
    with today(date(2027, 1, 2)):
        assert (await patch(client, keys.admin, deadline="2027-12-31", progress_days=14,
                            progress_from="2027-01-01")).status_code == 200
        before = await _samples(client, keys)
    with today(date(2027, 1, 20)):
        assert (await extend(client, mine, new_deadline="2028-03-31")).status_code == 201
        after = await _samples(client, keys)
        assert (await progress(client, mine)).status_code == 201
        reported = await _samples(client, keys)

    def value(samples: dict[Any, float], name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), -1.0)

    dept = {"department": DEPARTMENT}
    assert value(before, "attain_extension_requests", **dept, state="pending") == 0
    assert value(after, "attain_extension_requests", **dept, state="pending") == 1
    # Every deliverable with a deadline is pressed from the install day on: the seed's overdue ones too.
    assert value(before, "attain_progress_reports_overdue", **dept) == 0
    late = value(after, "attain_progress_reports_overdue", **dept)
    assert late >= 1 and value(reported, "attain_progress_reports_overdue", **dept) == late - 1
    # r03-1 is not due: grey before, yellow once a request is pending.
    grey = value(before, "attain_deliverables", **dept, status="not_due", light="grey")
    assert value(after, "attain_deliverables", **dept, status="not_due", light="grey") == grey - 1
    assert value(after, "attain_deliverables", **dept, status="not_due", light="yellow") == 1
