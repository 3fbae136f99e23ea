"""Checks of the deployment files: Dockerfile, deploy/compose.yaml, Prometheus configuration and rules
(with the real promtool), Grafana provisioning and dashboards."""

import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.deploy.promql import DEPLOY, RULES, all_promql_expressions, iter_panels, load_dashboards

ROOT = DEPLOY.parent
PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"
DATASOURCE_UID = "attain-prometheus"
DASHBOARD_UIDS = {"attain-overview", "attain-targets", "attain-indicator", "attain-districts", "attain-freshness",
                  "attain-deliverables"}
CITY = "370200"

# The families attain exports (docs/METRICS.md), with the series names a histogram and a counter add.
FAMILIES = {
    "attain_indicator_ratio", "attain_indicator_items", "attain_indicator_yuan",
    "attain_target_ratio", "attain_target_items", "attain_target_yuan",
    "attain_attainment_ratio", "attain_progress_ratio", "attain_target_status",
    "attain_unit_last_report_timestamp_seconds", "attain_unit_latest_period_end_timestamp_seconds",
    "attain_unit_report_interval_seconds", "attain_measurements_ingested_total", "attain_http_requests_total",
    "attain_http_request_duration_seconds_bucket", "attain_http_request_duration_seconds_sum",
    "attain_http_request_duration_seconds_count", "attain_scrape_collect_seconds",
    "attain_deliverable_status", "attain_deliverables", "attain_extension_requests", "attain_progress_reports_overdue",
    "attain_reporting_rate_ratio", "attain_reporting_on_time_ratio", "attain_quality_flags_open", "attain_reviews",
    "attain_instructions",
    "attain_notifications_created_total", "attain_deliveries_total", "attain_outbox_depth",
    "attain_outbox_oldest_seconds",
    "attain_rollup_pending_cells", "attain_rollup_lag_seconds", "attain_rollup_duration_seconds_bucket",
    "attain_rollup_duration_seconds_sum", "attain_rollup_duration_seconds_count",
}
STATUS_COLOURS = {
    "achieved": "green", "on_track": "green", "at_risk": "yellow", "off_track": "orange", "missed": "red",
    "no_data": "#8e8e8e", "insufficient_data": "#8e8e8e",
}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "compose.yaml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    return load_yaml(PROMETHEUS_DIR / "prometheus.yml")


def volumes(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each short-syntax volume."""
    out = []
    for v in service.get("volumes", []):
        source, target, *_ = v.split(":")
        out.append((source, target))
    return out


def command(service: dict[str, Any]) -> str:
    cmd = service["command"]
    return cmd if isinstance(cmd, str) else shlex.join(cmd)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found on PATH: install the Debian package `prometheus` (apt-get install prometheus)")
    return path


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_builds_a_non_root_python_311_image() -> None:
    instructions = dockerfile_instructions()
    args = {word: [rest for w, rest in instructions if w == word] for word, _ in instructions}
    assert args["FROM"] == ["python:3.11-slim"]
    assert any("pip install -c constraints.txt ." in r for r in args["RUN"])
    assert args["USER"] == ["attain"]
    assert args["EXPOSE"] == ["8000"]
    assert args["CMD"] == ['["attain", "serve", "--host", "0.0.0.0"]']
    (healthcheck,) = args["HEALTHCHECK"]
    assert "urllib" in healthcheck and "/healthz" in healthcheck
    user_index = [w for w, _ in instructions].index("USER")
    assert [w for w, _ in instructions].index("CMD") > user_index


def test_dockerfile_copies_what_the_service_needs() -> None:
    copied = " ".join(rest for word, rest in dockerfile_instructions() if word == "COPY")
    for needed in ("pyproject.toml", "constraints.txt", "alembic.ini", "app/", "migrations/", "seeds/"):
        assert needed in copied
        assert (ROOT / needed).exists()
    ignored = {
        line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert ignored.isdisjoint({"pyproject.toml", "constraints.txt", "alembic.ini", "app", "migrations", "seeds"})
    assert {".git", ".venv", "data"} <= ignored


# ---------------------------------------------------------------- compose


def test_compose_has_the_whole_stack(services: dict[str, Any], compose: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "attain", "keys", "simulator", "prometheus", "alertmanager", "grafana"}
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["prometheus"]["image"].startswith("prom/prometheus")
    assert services["grafana"]["image"].startswith("grafana/grafana")
    named = set(compose["volumes"])
    for service in services.values():
        for source, _ in volumes(service):
            assert source.startswith(".") or source in named, f"volume {source} is neither a path nor declared"


def test_attain_jobs_share_the_image_built_from_the_repository(services: dict[str, Any]) -> None:
    for name in ("attain", "keys", "simulator"):
        assert services[name]["image"] == services["attain"]["image"]
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"


def test_attain_waits_for_a_healthy_postgres(services: dict[str, Any]) -> None:
    assert services["attain"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    env = services["attain"]["environment"]
    assert env["ATTAIN_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["ATTAIN_DATABASE_URL"]
    assert env["ATTAIN_BOOTSTRAP_KEY_FILE"] == "/secrets/admin.key"
    assert ("secrets", "/secrets") in volumes(services["attain"])


def test_one_shot_jobs_run_in_order(services: dict[str, Any]) -> None:
    keys, simulator = services["keys"], services["simulator"]
    assert keys["depends_on"]["attain"]["condition"] == "service_healthy"
    assert simulator["depends_on"]["attain"]["condition"] == "service_healthy"
    assert simulator["depends_on"]["keys"]["condition"] == "service_completed_successfully"
    assert services["prometheus"]["depends_on"]["keys"]["condition"] == "service_completed_successfully"
    for job in (keys, simulator):
        assert job["restart"] == "no"
    assert "attain keys create --role scraper --name prometheus --out /secrets/prometheus.key" in command(keys)
    assert "test -s /secrets/prometheus.key ||" in command(keys)
    sim = command(simulator)
    assert "attain simulate --url http://attain:8000 --admin-key-file /secrets/admin.key" in sim


def test_prometheus_reads_the_key_file_the_keys_job_writes(
    services: dict[str, Any], prometheus_config: dict[str, Any]
) -> None:
    (job,) = prometheus_config["scrape_configs"]
    key_file = PurePosixPath(job["authorization"]["credentials_file"])
    assert job["authorization"]["type"] == "Bearer"
    assert f"--out {key_file}" in command(services["keys"])
    mounts = {target: source for source, target in volumes(services["prometheus"])}
    key_mounts = [t for t in mounts if key_file.is_relative_to(t)]
    assert key_mounts, f"prometheus does not mount {key_file}"
    assert (mounts[key_mounts[0]], key_mounts[0]) in volumes(services["keys"])
    # the configuration and its rules come from deploy/prometheus
    assert mounts["/etc/prometheus"] == "./prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    for rule_file in prometheus_config["rule_files"]:
        assert (PROMETHEUS_DIR / PurePosixPath(rule_file).name).is_file()
    assert job["static_configs"] == [{"targets": ["attain:8000"]}]
    assert prometheus_config["global"]["scrape_interval"] == "15s"


def test_compose_publishes_the_three_ports(services: dict[str, Any]) -> None:
    published = {name: [p.split(":")[-2] for p in s.get("ports", [])] for name, s in services.items()}
    assert published["attain"] == ["8000"]
    assert published["prometheus"] == ["9090"]
    assert published["grafana"] == ["3000"]
    assert published["postgres"] == []


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (str(k), *strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [str(node)]


def test_compose_holds_no_secrets_inline(compose: dict[str, Any], services: dict[str, Any]) -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert not re.search(r"attain_[0-9a-f]{8}_", text), "an API key is written into compose.yaml"
    assert "Bearer" not in text
    for name, service in services.items():
        env = service.get("environment", {})
        assert isinstance(env, dict), f"{name}: use a mapping for environment"
        for var, value in env.items():
            if re.search(r"PASSWORD|SECRET|TOKEN", var):
                assert re.fullmatch(r"\$\{\w+(:-[^}]*)?\}", str(value)), f"{name}.{var} must come from the environment"
            if var.endswith("DATABASE_URL"):
                password = re.match(r"[\w+]+://[^:]+:([^@]+)@", value)
                assert password and password.group(1).startswith("${"), f"{name}.{var} has an inline password"
    # keys live in files on the secrets volume, never in the environment
    for value in strings(compose):
        assert not re.search(r"ATTAIN_(API_)?KEY=", value)


def test_grafana_is_provisioned_from_files(services: dict[str, Any]) -> None:
    grafana = services["grafana"]
    mounts = {source: target for source, target in volumes(grafana)}
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD")

    (datasource,) = load_yaml(GRAFANA_DIR / "provisioning/datasources/prometheus.yml")["datasources"]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"

    (provider,) = load_yaml(GRAFANA_DIR / "provisioning/dashboards/attain.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == mounts["./grafana/dashboards"]
    home = PurePosixPath(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.parent == PurePosixPath(provider["options"]["path"])
    assert (GRAFANA_DIR / "dashboards" / home.name).is_file()


# ---------------------------------------------------------------- Prometheus, with the real promtool


def without_paths(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration minus what legitimately differs between compose and a local run."""
    config = yaml.safe_load(yaml.safe_dump(config))
    for job in config["scrape_configs"]:
        job["authorization"].pop("credentials_file")
        job.pop("static_configs")
    config.pop("rule_files")
    for am in config.get("alerting", {}).get("alertmanagers", []):
        am.pop("static_configs")
    return config


def test_local_prometheus_config_is_the_compose_one_on_localhost(prometheus_config: dict[str, Any]) -> None:
    local = load_yaml(PROMETHEUS_DIR / "prometheus.local.yml")
    assert without_paths(local) == without_paths(prometheus_config)
    (job,) = local["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:8000"]}]
    assert not PurePosixPath(job["authorization"]["credentials_file"]).is_absolute()
    assert all(not PurePosixPath(f).is_absolute() for f in local["rule_files"])


@pytest.mark.prometheus
def test_promtool_accepts_the_local_config(tmp_path: Path) -> None:
    local = load_yaml(PROMETHEUS_DIR / "prometheus.local.yml")
    shutil.copy(PROMETHEUS_DIR / "prometheus.local.yml", tmp_path / "prometheus.yml")
    (tmp_path / local["scrape_configs"][0]["authorization"]["credentials_file"]).write_text("dummy-key\n")
    for rule_file in local["rule_files"]:
        shutil.copy(PROMETHEUS_DIR / rule_file, tmp_path / rule_file)
    result = run_promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.prometheus
def test_promtool_accepts_the_compose_config(tmp_path: Path) -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    key = tmp_path / "prometheus.key"
    key.write_text("dummy-key\n")
    config["scrape_configs"][0]["authorization"]["credentials_file"] = str(key)
    config["rule_files"] = [str(PROMETHEUS_DIR / f) for f in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = run_promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.prometheus
def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.prometheus
def test_rule_unit_tests_pass() -> None:
    """rules_test.yml: off_track and missed alert; a district silent for two years alerts, the city and a
    fresh district do not; an overdue deliverable alerts after an hour, one done late or standing never."""
    result = run_promtool("test", "rules", "rules_test.yml", cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_are_the_documented_ones() -> None:
    rules = {r.get("alert") or r["record"]: r for g in load_yaml(RULES)["groups"] for r in g["rules"]}
    assert set(rules) >= {"AttainTargetOffTrack", "AttainTargetMissed", "AttainDistrictSilent"}
    assert 'attain_target_status{attain_target_status="off_track"} == 1' in rules["AttainTargetOffTrack"]["expr"]
    assert 'attain_target_status{attain_target_status="missed"} == 1' in rules["AttainTargetMissed"]["expr"]
    silent = " ".join(rules["AttainDistrictSilent"]["expr"].split())
    assert f'unit_code!="{CITY}"' in silent and "on (unit_code) attain_unit_report_interval_seconds" in silent
    for name in ("AttainTargetOffTrack", "AttainTargetMissed", "AttainDistrictSilent"):
        rule = rules[name]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert {"summary", "description"} <= set(rule["annotations"])
    assert "责任处室" in rules["AttainTargetOffTrack"]["annotations"]["description"]
    assert "教体局" in rules["AttainDistrictSilent"]["annotations"]["description"]
    overdue = rules["AttainDeliverableOverdue"]
    assert overdue["expr"] == 'attain_deliverable_status{attain_deliverable_status="overdue"} == 1'
    assert overdue["labels"] == {"severity": "warning", "responsible": "department"}
    # every department's Chinese name is in the description's lookup
    departments = load_yaml(ROOT / "seeds/departments.yaml")
    assert all(f'"{d["code"]}" }}}}{{{{ $name = "{d["name_zh"]}"' in overdue["annotations"]["description"]
               for d in departments)
    pishi = rules["AttainInstructionOverdue"]
    assert pishi["expr"] == 'sum by (department) (attain_instructions{overdue="true"}) > 0'
    assert pishi["labels"] == {"severity": "warning", "responsible": "department"}
    assert all(f'"{d["code"]}" }}}}{{{{ $name = "{d["name_zh"]}"' in pishi["annotations"]["description"]
               for d in departments)


def test_deliverables_dashboard_shows_departments_and_overdue(dashboards: dict[str, dict[str, Any]]) -> None:
    dashboard = dashboards["attain-deliverables"]
    assert "Plan deliverables by department" in dashboard["title"]
    exprs = {p["title"]: [t["expr"] for t in p.get("targets", [])] for p in iter_panels(dashboard["panels"])}
    assert exprs["各处室计划任务 Deliverables by department and status"] == [
        "sum by (department, status) (attain_deliverables)"]
    assert any('attain_deliverable_status="overdue"' in e for e in exprs["逾期事项 Overdue deliverables"])
    rate = exprs["按期完成率 On-time rate"][0]
    assert 'attain_deliverable_status="done_on_time"' in rate
    assert "done_on_time|done_after_extension|done_late|overdue" in rate
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    assert [r["title"] for r in rows] == ["批示 Leaders' instructions"]
    assert exprs["逾期未反馈批示 Overdue 批示 replies"] == ['sum(attain_instructions{overdue="true"})']
    assert "sum by (department, state) (attain_instructions)" in exprs["各处室批示 批示 by department and state"][0]


@pytest.mark.prometheus
def test_every_promql_expression_parses(tmp_path: Path) -> None:
    """Each expression of the dashboards and rules, as a recording rule that promtool must parse."""
    expressions = all_promql_expressions()
    rules = [{"record": f"attain:check_{i}", "expr": e.expr} for i, e in enumerate(expressions)]
    (tmp_path / "check.yml").write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
    result = run_promtool("check", "rules", str(tmp_path / "check.yml"))
    index = "\n".join(f"attain:check_{i}: {e.where}" for i, e in enumerate(expressions))
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{index}"


# ---------------------------------------------------------------- dashboards


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return {d["uid"]: d for d in load_dashboards().values()}


def test_dashboards_have_their_fixed_uids(dashboards: dict[str, dict[str, Any]]) -> None:
    assert set(dashboards) == DASHBOARD_UIDS
    for name, dashboard in load_dashboards().items():
        assert name == f"{dashboard['uid']}.json"
        assert 36 <= dashboard["schemaVersion"] <= 41
        # titles in Chinese and English
        assert re.search(r"[\u4e00-\u9fff]", dashboard["title"]) and re.search(r"[A-Za-z]{4}", dashboard["title"])


def test_panels_have_unique_ids_and_use_the_attain_datasource(dashboards: dict[str, dict[str, Any]]) -> None:
    for uid, dashboard in dashboards.items():
        panels = list(iter_panels(dashboard["panels"]))
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{uid}: duplicate panel ids"
        for panel in panels:
            if panel["type"] == "row":
                continue
            assert panel["targets"], f"{uid} panel {panel['id']} has no query"
            assert re.search(r"[\u4e00-\u9fff]", panel["title"]) and re.search(r"[A-Za-z]", panel["title"])
            assert panel["datasource"]["uid"] == DATASOURCE_UID
            for t in panel["targets"]:
                assert t["datasource"]["uid"] == DATASOURCE_UID, f"{uid} panel {panel['id']} {t['refId']}"
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids))
        for var in dashboard["templating"]["list"]:
            if var["type"] == "query":
                assert var["datasource"]["uid"] == DATASOURCE_UID


def test_indicator_dashboard_draws_the_target_dashed(dashboards: dict[str, dict[str, Any]]) -> None:
    dashboard = dashboards["attain-indicator"]
    assert [v["name"] for v in dashboard["templating"]["list"]][0] == "indicator"
    assert dashboard["templating"]["list"][0]["definition"] == "label_values(attain_target_status, indicator)"
    dashed = []
    for panel in iter_panels(dashboard["panels"]):
        queries = {t["refId"]: t["expr"] for t in panel.get("targets", [])}
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            props = {p["id"]: p["value"] for p in override["properties"]}
            style = props.get("custom.lineStyle")
            if style and style["fill"] == "dash":
                assert override["matcher"]["id"] == "byFrameRefID"
                expr = queries[override["matcher"]["options"]]
                assert "attain_target_ratio" in expr and '$indicator' in expr
                assert style["dash"] == [10, 10]
                value_exprs = [e for ref, e in queries.items() if ref != override["matcher"]["options"]]
                assert any("attain_indicator_ratio" in e for e in value_exprs)
                dashed.append(panel["id"])
    assert dashed, "no panel draws the target as a dashed line"


def test_target_table_colours_each_status(dashboards: dict[str, dict[str, Any]]) -> None:
    (panel,) = [p for p in iter_panels(dashboards["attain-targets"]["panels"]) if p["title"].startswith("目标一览")]
    assert panel["type"] == "table"
    (status_column,) = [
        o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == "attain_target_status"
    ]
    props = {p["id"]: p["value"] for p in status_column["properties"]}
    assert props["custom.cellOptions"]["type"] == "color-background"
    (mapping,) = props["mappings"]
    assert {status: m["color"] for status, m in mapping["options"].items()} == STATUS_COLOURS


def test_expressions_use_only_exported_families() -> None:
    recorded = {r["record"] for g in load_yaml(RULES)["groups"] for r in g["rules"] if "record" in r}
    for e in all_promql_expressions():
        names = set(re.findall(r"\battain[_:][a-z_:]+", e.expr))
        unknown = names - FAMILIES - (recorded if e.where.startswith("rules.yml") else set())
        assert not unknown, f"{e.where}: {sorted(unknown)}"
        # no metric outside attain's own (up, process_*, ...)
        selectors = re.sub(r'"[^"]*"|\{[^}]*\}|\[[^]]*\]', "", e.expr)
        for word in re.findall(r"[a-zA-Z_:][\w:]*", selectors):
            assert word.startswith("attain") or word in PROMQL_WORDS, f"{e.where}: {word}"


PROMQL_WORDS = {
    "sum", "max", "min", "count", "avg", "by", "without", "on", "ignoring", "group_left", "group_right", "or",
    "and", "unless", "bool", "time", "label_replace", "rate", "increase", "histogram_quantile", "le", "indicator",
    "unit_code", "unit_name", "kind", "target_year", "outcome", "task", "method", "route", "status",
    "department", "deliverable", "state", "light",
}


def test_expressions_have_their_variables_substituted() -> None:
    expressions = all_promql_expressions(indicator="t14-practice-base", unit="370283")
    dashboards = [e for e in expressions if not e.where.startswith("rules.yml")]
    assert len({e.where for e in expressions}) == len(expressions)
    assert any('indicator="t14-practice-base"' in e.expr for e in dashboards)
    assert any('unit_code=~"370283"' in e.expr for e in dashboards)
    for e in expressions:
        assert not re.search(r"\$\{?[A-Za-z_]", e.expr), e
    alerts = {e.where for e in expressions if not e.returns_data}
    names = ("AttainTargetOffTrack", "AttainTargetMissed", "AttainDistrictSilent", "AttainDeliverableOverdue",
             "AttainDistrictReportingIncomplete", "AttainInstructionOverdue", "AttainNotificationsStuck",
             "AttainRollupLagging")
    assert alerts == {f"rules.yml alert {a}" for a in names}
