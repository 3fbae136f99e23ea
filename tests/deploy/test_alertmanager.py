"""deploy/alertmanager.yml: accepted by the real amtool, routing the bureau-wide alerts by department and by
district; and live, a real Prometheus (rules with `for: 0s`) and Alertmanager against attain deliver an
overdue-deliverable alert to a local webhook receiver."""

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from tests.deploy.live import ROOT, attain_server, cli, free_port, prometheus, wait_for
from tests.receiver import receiver

CONFIG = ROOT / "deploy/alertmanager.yml"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package prometheus-alertmanager (scripts/system-packages)")
    return path


def test_amtool_accepts_the_config() -> None:
    done = subprocess.run([_binary("amtool"), "check-config", str(CONFIG)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize(("labels", "receiver_name"), [
    ("alertname=AttainDeliverableOverdue department=jijiao deliverable=r03-1", "departments"),
    ("alertname=AttainInstructionOverdue department=fagui", "departments"),
    ("alertname=AttainDistrictSilent unit_code=370211", "districts"),
    ("alertname=AttainNotificationsStuck", "bureau-ops"),
])
def test_routes_by_department_and_by_district(labels: str, receiver_name: str) -> None:
    done = subprocess.run([_binary("amtool"), "config", "routes", "test", f"--config.file={CONFIG}", *labels.split()],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == receiver_name, done.stdout + done.stderr


def test_each_department_and_each_district_is_its_own_group() -> None:
    routes = {tuple(r["matchers"]): r["group_by"] for r in yaml.safe_load(CONFIG.read_text())["route"]["routes"]}
    assert routes[('alertname=~"AttainDeliverableOverdue|AttainInstructionOverdue"',)] == ["alertname", "department"]
    assert routes[('alertname="AttainDistrictSilent"',)] == ["alertname", "unit_code"]


@pytest.mark.prometheus
def test_an_overdue_deliverable_reaches_the_departments_webhook(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(re.sub(r"for: \S+", "for: 0s", (ROOT / "deploy/prometheus/rules.yml").read_text()))
    with receiver() as rx, attain_server(tmp_path) as (base, _admin):
        key_file = tmp_path / "prometheus.key"
        cli(tmp_path, "keys", "create", "--role", "scraper", "--name", "prometheus", "--out", str(key_file))
        config = yaml.safe_load(CONFIG.read_text())
        hook = rx.url.split("/robot")[0]
        for r in config["receivers"]:
            for w in r["webhook_configs"]:
                w["url"] = hook + "/" + w["url"].rsplit("/", 1)[1]
        config["route"].update(group_wait="1s", group_interval="1s")
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        log = (tmp_path / "alertmanager.log").open("w")
        am = subprocess.Popen([_binary("prometheus-alertmanager"), f"--config.file={tmp_path / 'alertmanager.yml'}",
                               f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{port}",
                               "--cluster.listen-address="], stdout=log, stderr=log)
        try:
            wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status_code == 200,
                     timeout=60, what="alertmanager")
            with prometheus(tmp_path, target=base.removeprefix("http://"), key_file=key_file, rule_files=[rules],
                            alertmanager=f"127.0.0.1:{port}"):
                def arrived() -> list:
                    return [g for g in list(rx.got) if g.path == "/departments"
                            and g.body.get("groupLabels", {}).get("alertname") == "AttainDeliverableOverdue"]

                got = wait_for(arrived, timeout=90, what="an overdue-deliverable alert at the departments webhook")
        finally:
            am.terminate()
            am.wait(timeout=30)
            log.close()
    departments = {g.body["groupLabels"]["department"] for g in got}
    assert departments and all(d for d in departments)
    for g in got:  # one notification per department: every alert in it is that department's
        assert {a["labels"]["department"] for a in g.body["alerts"]} == {g.body["groupLabels"]["department"]}
