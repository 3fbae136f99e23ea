"""Schemathesis against the served OpenAPI, once with a valid key of each role (admin, bureau, district, scraper):
zero failures.

The run is the engine behind `st run` — examples, coverage, fuzzing and stateful phases, every default check
(5xx, status codes, content types, response schemas and headers, positive and negative data, Allow headers,
unsupported methods, use-after-free, ...) — driven through `schemathesis.openapi.from_asgi` against the app
in-process. Schemathesis starts the app's lifespan itself, on its own event loop. Bounded for CI: a few examples
per operation, deterministic generation, no example database, health checks off (deadline is always off in the
engine). This file runs on SQLite only; bench/fuzz.py runs longer, on PostgreSQL, with the same contract below.

A schema cannot say everything SPEC.md says. Where the contract demands a 4xx for input the schema accepts, the
operation is listed in CONTRACT_4XX with the statuses and the reason, and `positive_data_acceptance` accepts those
statuses for that operation only; every other check stays on for it. No check is excluded anywhere. The one
other restriction is on generation: DELETE /api/v1/keys/{key_id} is never sent with the id of a key the run itself
uses (an admin revoking its own key would turn the rest of the run into 401s).

Besides schemathesis' own string generation, every generated query, path parameter and JSON body is, in about
half the cases, given a hostile character in one of its strings (NUL, other C0 controls, DEL, NEL, zero-width,
bidi override, BOM — prefixed, appended, inserted or alone): hypothesis rarely draws these by itself, and NUL is
what PostgreSQL refuses to compare. test_hostile_strings.py sends each of them to every string parameter once.

A failure is any failed check, and also any exception that escapes the app (schemathesis reports those as errors:
Starlette answers 500 and re-raises) — each listed with its operation, status, message and a curl line.
"""

import asyncio
import re
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.engine import Status, events, from_schema
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python import asgi as schemathesis_asgi
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.models import ApiKey
from app.domain import keys as key_domain
from app.main import create_app
from app.settings import Settings
from tests.conftest import Keys

# positive_data_acceptance's own default (schemathesis.config): what a schema-valid request may get.
POSITIVE_DEFAULT = ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx")

# operation label → (extra statuses SPEC.md demands for schema-valid input, why the schema cannot rule it out)
CONTRACT_4XX: dict[str, tuple[tuple[int, ...], str]] = {
    "GET /api/v1/tasks": ((422,), "an unknown department name/alias is 422; names are free text"),
    "GET /api/v1/indicators": ((422,), "an unknown department name/alias is 422; names are free text"),
    "GET /api/v1/measurements": (
        (400, 422), "unknown unit, unparseable period_from/period_to/as_of are 422, a cursor the service did not "
                    "issue is 400; all are free-text strings in the schema"),
    "GET /api/v1/measurements/history": ((422,), "unknown unit or unparseable period is 422"),
    "DELETE /api/v1/measurements": ((422,), "unknown unit or unparseable period is 422"),
    "GET /api/v1/attainment": ((422,), "unparseable date/as_of or an unknown unit is 422"),
    "GET /api/v1/attainment/summary": ((422,), "unparseable date/as_of is 422"),
    "GET /api/v1/indicators/{code}/yearly": ((422,), "unparseable date/as_of is 422"),
    "GET /api/v1/completeness": ((422,), "unparseable date/as_of, an unknown unit or indicator is 422"),
    "GET /api/v1/templates": ((422,), "an unknown unit or unparseable period is 422, as is no unit from a key "
                                      "bound to none"),
    "POST /api/v1/measurements": (
        (400, 413, 422), "rows are judged by the catalog (unknown indicator, future period, period too fine, bounds, "
                         "rate mismatch, ...): no row accepted is 422; a text/csv body is any string in the schema, "
                         "so an unreadable CSV is 400 and more than 10,000 rows 413"),
    "POST /api/v1/indicators": ((422,), "a task number that does not exist is 422"),
    "PATCH /api/v1/indicators/{code}": ((422,), "min above max (the new or the stored one) is 422"),
    "POST /api/v1/indicators/{code}/targets": ((422,), "an unknown unit, or year_from after year, is 422"),
    "PATCH /api/v1/targets/{target_id}": ((422,), "year_from after year (the new or the stored one) is 422"),
    "POST /api/v1/units": ((422,), "an unknown parent unit is 422"),
    "POST /api/v1/keys": ((422,), "a district key without a unit, or an unknown unit, or an unreadable or past "
                                  "expiry is 422; a name an active key has is 409"),
    "GET /api/v1/quality": ((422,), "an unknown unit is 422"),
    "GET /api/v1/reviews": ((422,), "an unknown unit is 422"),
    "POST /api/v1/reviews": ((422,), "an unknown unit is 422"),
    "POST /api/v1/reviews/{review_id}/approve": ((422,), "a comment with control characters is 422"),
    "POST /api/v1/reviews/{review_id}/return": ((422,), "a comment with control characters is 422"),
    "POST /api/v1/reviews/{review_id}/unlock": ((422,), "a reason with control characters is 422"),
    "POST /api/v1/quality/{flag_id}/confirm": ((422,), "a note with control characters is 422"),
    "PUT /api/v1/indicators/{code}/reporters": ((422,), "an unknown unit among the reporters is 422"),
    "POST /api/v1/keys/{key_id}/rotate": ((422,), "an unparseable or past expiry is 422; it is free text"),
    "GET /api/v1/deliverables": ((422,), "unparseable date/as_of or an unknown department is 422"),
    "GET /api/v1/deliverables/{code}": ((422,), "unparseable date/as_of is 422"),
    "GET /api/v1/plan/summary": ((422,), "unparseable date/as_of is 422"),
    "GET /api/v1/tasks/{n}/scorecard": ((422,), "unparseable date/as_of is 422"),
    "PUT /api/v1/deliverables/{code}/report": (
        (422,), "the report rules (unknown state, done without done_on, a future date, a non-http url, a note too "
                "long, ...) answer 422 with a stable code; every field is free text in the schema"),
    "GET /api/v1/instructions": ((422,), "unparseable date/as_of, an unknown department or a target that is not "
                                         "kind:code is 422"),
    "GET /api/v1/instructions/{instruction_id}": ((422,), "unparseable date/as_of is 422"),
    "POST /api/v1/instructions": ((422,), "an unknown target or department, or a respond_by before today, is 422"),
    "POST /api/v1/instructions/{instruction_id}/replies": (
        (400, 413, 415, 422), "the body is JSON or a multipart form read by the route itself: an unreadable one is "
                              "400 or 415, one over the upload limits 413, a reply failing the rules 422"),
    "POST /api/v1/instructions/{instruction_id}/reopen": ((422,), "a respond_by before today is 422"),
    "POST /api/v1/instructions/{instruction_id}/close": ((422,), "an Idempotency-Key sent before with another body "
                                                                 "is 422, as for every write that honours one"),
    "GET /api/v1/departments/scorecard": ((422,), "unparseable date/as_of is 422"),
    "PUT /api/v1/departments/scorecard/weights": ((422,), "negative, all-zero or over-1,000 weights are 422"),
    "POST /api/v1/deliverables/{code}/progress": (
        (400, 413, 415, 422), "evidence is typed by its bytes (415 file_type), limits are 413/422, and the form "
                              "fields are checked by the progress rules (422); binary parts are any bytes"),
    "POST /api/v1/deliverables/{code}/extensions": (
        (400, 409, 422), "the extension rules (too_late, not_extendable, deadline_not_later, a pending one 409, a "
                         "date out of range) answer with a stable code; every field is free text in the schema; an "
                         "Idempotency-Key beyond visible ASCII is 400 bad_idempotency_key, as for submissions"),
    "POST /api/v1/extensions/{extension_id}/approve": (
        (400, 409, 422), "only a pending request (409 review_state); a note with control characters is 422; an "
                         "Idempotency-Key beyond visible ASCII is 400"),
    "POST /api/v1/extensions/{extension_id}/reject": (
        (400, 409, 422), "only a pending request (409 review_state); a note with control characters is 422; an "
                         "Idempotency-Key beyond visible ASCII is 400"),
    "PATCH /api/v1/deliverables/{code}": ((422,), "a correction's fields are checked by its rules (unknown fields, "
                                                  "bad dates, unknown departments): the body is any object"),
    "GET /api/v1/extensions": ((422,), "an unknown department name/alias is 422"),
    "POST /api/v1/channels": ((422,), "a channel names exactly one department, unit or role, known ones, and an "
                                      "http(s) URL with a valid host: the schema allows any strings"),
    "PUT /api/v1/channels/{channel_id}": ((422,), "the same rules as for a new channel"),
}

# NUL, C0 controls (with TAB, LF, CR), ESC, DEL, NEL, zero-width space, right-to-left override, BOM.
HOSTILE_CHARS = ("\x00", "\x01", "\x07", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\u200b", "\u202e",
                 "\ufeff")
PLACES = ("prefix", "suffix", "middle", "alone")


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, (*path, i))]
    return []


def _spoiled(value: Any, path: tuple[Any, ...], char: str, place: str) -> Any:
    if not path:
        text = str(value)
        return {"prefix": char + text, "suffix": text + char, "alone": char,
                "middle": text[: len(text) // 2] + char + text[len(text) // 2:]}[place]
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _spoiled(value[head], rest, char, place)}
    copy = list(value)
    copy[head] = _spoiled(copy[head], rest, char, place)
    return copy


_UNWANTED = re.compile("[\x00-\x1f\x7f\x85\u200b\u202e\ufeff]")


def holds_hostile_text(case: Any) -> bool:
    """Whether any string of the request's query, path or body holds a character the contract refuses."""
    parts = (case.query, case.path_parameters, case.body)
    # Path parameters may already be percent-encoded in the case.
    return any(_UNWANTED.search(unquote(_get(part, p))) for part in parts for p in _string_paths(part))


def _get(value: Any, path: tuple[Any, ...]) -> str:
    for step in path:
        value = value[step]
    return str(value)


def hostile_strings(value: Any) -> st.SearchStrategy[Any]:
    """The value as generated, or a copy with one of its strings given a hostile character."""
    paths = _string_paths(value)
    if not paths:
        return st.just(value)
    spoil = st.tuples(st.sampled_from(paths), st.sampled_from(HOSTILE_CHARS), st.sampled_from(PLACES))
    return st.one_of(st.just(value), spoil.map(lambda t: _spoiled(value, *t)))


# role → the conftest key used for it
ROLES = {"admin": "admin", "bureau": "bureau", "district": "huangdao", "scraper": "scraper"}
CI_MAX_EXAMPLES = 6
RUN_KEY_ID = 1_234_567_891


def contract_config(*, token: str, max_examples: int, seed: int = 2019) -> schemathesis.Config:
    """Schemathesis settings: the key, the bounds, and the contract's extra 4xx per operation."""
    operations = [
        {"include-name": label,
         "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_DEFAULT, *map(str, extra)]}}}
        for label, (extra, _why) in CONTRACT_4XX.items()
    ]
    return schemathesis.Config.from_dict({
        "seed": seed,
        "continue-on-failure": True,  # report every failing operation, not just the first
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": max_examples, "deterministic": True, "database": "none"},
        "suppress-health-check": ["all"],
        "operations": operations,
    })


@dataclass
class Finding:
    check: str
    operation: str
    status: int | None
    title: str
    message: str
    curl: str
    body: str
    count: int = 1


@dataclass
class Report:
    role: str
    elapsed: float = 0.0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: dict[tuple[str, str, int | None, str], Finding] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stop_reason: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.findings or self.errors)

    def render(self) -> str:
        lines = [f"{self.role}: {self.requests} requests in {self.elapsed:.0f} s, stop: {self.stop_reason}, "
                 f"statuses {dict(sorted(self.statuses.items()))}"]
        for f in sorted(self.findings.values(), key=lambda f: (f.operation, f.check, f.status or 0)):
            lines += [f"- [{f.check}] {f.operation} -> {f.status} ({f.title}) x{f.count}",
                      "    " + f.message.replace("\n", "\n    ")[:600], f"    {f.curl[:700]}",
                      f"    response: {f.body[:300]}"]
        lines += [f"- [error] {e}" for e in self.errors]
        return "\n".join(lines)


def run_schemathesis(app: Any, *, role: str, token: str, max_examples: int, protected_key_ids: set[int],
                     seed: int = 2019) -> Report:
    """One full schemathesis run against the ASGI app with one key (blocking: call it off the event loop)."""
    report = Report(role=role)
    started = time.monotonic()
    never_revoke_the_run_s_own_keys: Any = None
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app,
                                                config=contract_config(token=token, max_examples=max_examples,
                                                                       seed=seed))

        @schema.hook("filter_path_parameters")
        def keep_the_run_s_own_keys(ctx: Any, path_parameters: dict[str, Any]) -> bool:
            # Revoking the key the run authenticates with would turn the rest of the run into 401s.
            if ctx.operation is not None and ctx.operation.label == "DELETE /api/v1/keys/{key_id}":
                return str((path_parameters or {}).get("key_id")) not in {str(i) for i in protected_key_ids}
            return True

        def never_revoke_the_run_s_own_keys(_ctx: Any, case: Any, **_kwargs: Any) -> None:
            # The stateful phase follows links (POST /keys/{key_id}/rotate → DELETE /keys/{key_id}) with the ids
            # they carry, past the filter above: such a call goes to an id no key has instead (404).
            if case.operation.label == "DELETE /api/v1/keys/{key_id}" and str(
                    (case.path_parameters or {}).get("key_id")) in {str(i) for i in protected_key_ids}:
                case.path_parameters["key_id"] = 2**31 - 2

        # before_call hooks exist only globally: registered for this run, unregistered after it.
        schemathesis.hook("before_call")(never_revoke_the_run_s_own_keys)

        for where in ("query", "path_parameters", "body"):
            schema.hook(f"flatmap_{where}")(lambda _ctx, value: hostile_strings(value))

        @schema.hook("filter_failure")
        def hostile_text_is_refused(_ctx: Any, failure: Any, case: Any, response: Any) -> bool:
            # A "valid" request whose strings the hooks above spoiled is refused by contract: 400 for a control
            # character in the path or query (app.guards), 400/422 for one in a body field. Anything else stays.
            refused = isinstance(failure, RejectedPositiveData) and response.status_code in (400, 422)
            return not (refused and holds_hostile_text(case))

        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                _collect(report, event)
            elif isinstance(event, events.NonFatalError):
                info = event.info
                report.errors.append(f"{event.label}: {info.title}: {info.message}\n{info.traceback[-1500:]}")
            elif isinstance(event, events.FatalError):
                report.errors.append(f"fatal: {event.exception!r}"[:1500])
            elif isinstance(event, events.EngineFinished):
                report.stop_reason = event.stop_reason.value
    finally:
        if never_revoke_the_run_s_own_keys is not None:
            schemathesis.hooks.unregister(never_revoke_the_run_s_own_keys)
        schemathesis_asgi.shutdown_lifespans()  # the app's lifespan ran on schemathesis' loop: dispose the engine
        report.elapsed = time.monotonic() - started
    return report


def _collect(report: Report, event: events.ScenarioFinished) -> None:
    recorder = event.recorder
    for done in recorder.interactions.values():
        if done.response is not None:
            report.requests += 1
            report.statuses[done.response.status_code] += 1
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            node = recorder.cases.get(case_id)
            operation = event.label or (node.value.operation.label if node is not None else "?")
            status = response.status_code if response is not None else None
            key = (check.name, operation, status, failure.title)
            if key in report.findings:
                report.findings[key].count += 1
                continue
            report.findings[key] = Finding(
                check=check.name, operation=operation, status=status, title=failure.title, message=failure.message,
                curl=check.failure_info.code_sample,
                body=response.content[:300].decode("utf-8", "replace") if response is not None else "",
            )


@pytest.fixture
async def database_url(templates: dict[str, str], tmp_path: Path) -> AsyncIterator[str]:
    """SQLite only in CI: the PostgreSQL run is bench/fuzz.py's."""
    target = tmp_path / "attain.db"
    shutil.copyfile(templates["sqlite"], target)
    yield f"sqlite+aiosqlite:///{target}"


@pytest.mark.parametrize("role", list(ROLES))
async def test_schemathesis_finds_nothing(
    role: str, keys: Keys, session: AsyncSession, database_url: str, client: httpx.AsyncClient
) -> None:
    # The run's own key gets an id no generator favours (not a boundary, not a small serial), on top of the filter.
    made = key_domain.generate()
    async with session.begin():
        session.add(ApiKey(id=RUN_KEY_ID, name=f"schemathesis {role}", role=role,
                           unit_code="370211" if role == "district" else None, prefix=made.prefix,
                           key_hash=made.key_hash))
    token = made.token
    key_ids = {i for (i,) in (await session.execute(select(col(ApiKey.id)))).all() if i is not None}
    await session.rollback()
    # A second app instance on the same database: schemathesis runs its lifespan on its own event loop.
    app = create_app(Settings(database_url=database_url, metrics_public=False, log_level="warning"))
    report = await asyncio.to_thread(run_schemathesis, app, role=role, token=token, max_examples=CI_MAX_EXAMPLES,
                                     protected_key_ids=key_ids)
    print(report.render())
    assert report.requests > 200, report.render()
    assert not report.failed, report.render()
    # The run's own key survived it (the filter above worked), so every answer was about the input, not the key.
    probe = "/metrics" if role == "scraper" else "/api/v1/actions"
    assert (await client.get(probe, headers=keys.auth(token))).status_code == 200, "the run revoked its own key"
