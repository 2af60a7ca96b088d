"""Every metric the code makes is documented, and the shipped alerts and dashboard use only those."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["daemons/rpc/metrics.py", "ftp_monitor/metrics.py", "orchestrator/exporter.py"]
NAME = re.compile(r"edeposit_[a-z_]+")
SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and not name.endswith("_seconds"):
            return name.removesuffix(suffix)
    return name


def made_by_code() -> set[str]:
    names = set()
    for source in SOURCES:
        names |= {n for n in NAME.findall((ROOT / source).read_text()) if not n.startswith("edeposit_log")}
    return names - {"edeposit_request", "edeposit_amqpd"}


def documented() -> set[str]:
    return {base(name) for name in re.findall(r"``(edeposit_[a-z_]+)``", (ROOT / "docs/monitoring.rst").read_text())}


def test_every_metric_the_code_makes_is_documented() -> None:
    code = {base(name) for name in made_by_code()}
    assert code - documented() == set()
    assert len(code) >= 20


def test_alerts_and_dashboard_use_only_documented_metrics() -> None:
    rules = yaml.safe_load((ROOT / "conf/prometheus-alerts.yml").read_text())["groups"][0]["rules"]
    dashboard = json.loads((ROOT / "conf/grafana-dashboard.json").read_text())
    expressions = [rule["expr"] for rule in rules]
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {base(name) for expression in expressions for name in NAME.findall(expression)}
    assert used - documented() == set()
    assert {"edeposit_daemon_crash_looping", "edeposit_queue_messages", "edeposit_ftp_monitor_bytes_behind",
            "edeposit_requests"} <= used
