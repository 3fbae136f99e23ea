"""Every PromQL expression in deploy/: dashboard panels and variables, recording and alerting rules.

`all_promql_expressions()` is shared by the checks of deploy/ and by tests that run the expressions
against a real Prometheus scraping attain.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
RULES = DEPLOY / "prometheus" / "rules.yml"

# Grafana's own variables ($__rate_interval, $__interval, $__range) all stand for a duration here.
GRAFANA_DURATION = "5m"
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.+),\s*\w+\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.+)\)\s*$", re.S)


class PromQL(NamedTuple):
    """One expression: where it lives, the PromQL itself, and whether it should return series when all is well."""

    where: str
    expr: str
    # False for alerting rules: they return series only while something is wrong.
    returns_data: bool


def load_dashboards() -> dict[str, dict[str, Any]]:
    """The dashboards by file name."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def substitute(expr: str, *, indicator: str, unit: str, where: str) -> str:
    """Replace dashboard variables by concrete values, so the expression can be sent to Prometheus."""
    values = {"indicator": indicator, "unit": unit}

    def replace(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in values:
            return values[name]
        if name.startswith("__"):
            return GRAFANA_DURATION
        if name.isdigit():  # a regex back-reference, as in label_replace(..., "$1", ...)
            return m.group(0)
        raise ValueError(f"{where}: unknown variable ${name} in {expr!r}")

    return _VARIABLE.sub(replace, expr)


def _variable_expr(query: Any) -> str | None:
    """The PromQL behind a Grafana query variable, or None when it is no PromQL (label_values(label))."""
    text = query.get("query", "") if isinstance(query, dict) else str(query or "")
    for pattern in (_LABEL_VALUES, _QUERY_RESULT):
        if m := pattern.match(text):
            return m.group(1).strip()
    return None


def dashboard_expressions(indicator: str, unit: str) -> list[PromQL]:
    """Panel targets and query variables of every dashboard, variables substituted."""
    out: list[PromQL] = []
    for name, dashboard in load_dashboards().items():
        uid = dashboard.get("uid", name)
        for var in dashboard.get("templating", {}).get("list", []):
            if var.get("type") == "query" and (expr := _variable_expr(var.get("query"))):
                where = f"{uid} variable ${var['name']}"
                out.append(PromQL(where, substitute(expr, indicator=indicator, unit=unit, where=where), True))
        for panel in iter_panels(dashboard.get("panels", [])):
            for t in panel.get("targets", []):
                if t.get("expr") and not t.get("hide"):
                    where = f"{uid} panel {panel['id']} {panel.get('title', '')!r} query {t.get('refId')}"
                    out.append(PromQL(where, substitute(t["expr"], indicator=indicator, unit=unit, where=where), True))
    return out


def rule_expressions() -> list[PromQL]:
    """Recording rules (which always return series) and alerting rules (which return series only when firing)."""
    out: list[PromQL] = []
    for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                out.append(PromQL(f"rules.yml record {rule['record']}", rule["expr"].strip(), True))
            else:
                out.append(PromQL(f"rules.yml alert {rule['alert']}", rule["expr"].strip(), False))
    return out


def all_promql_expressions(indicator: str = "t03-campus-network-compliance", unit: str = "370211") -> list[PromQL]:
    """Every PromQL expression of the dashboards and of rules.yml.

    $indicator and $unit become the given indicator and unit codes; Grafana's $__rate_interval,
    $__interval and $__range become 5m. Each item is a PromQL(where, expr, returns_data) tuple.
    """
    return dashboard_expressions(indicator, unit) + rule_expressions()
