"""The monitoring files shipped in bots/observability/ and the compose profile that starts them:
they parse, point at each other, and ask only for metrics the service exports. (Docker does not
run here; this is what can be checked without it.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from bots.metrics import HANDOFF_REASONS, Metrics, handoff_reason

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "bots" / "observability"
METRIC = re.compile(r"\bomnirelay_[a-z_]+\b")


def exported() -> set[str]:
    """Every series name the registry can produce (a labelled metric before its first use
    included): counters with ``_total``, histograms with their ``_bucket``/``_sum``/``_count``."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def queried(exprs: list[str]) -> set[str]:
    return {name for expr in exprs for name in METRIC.findall(expr)}


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / "grafana-dashboard.json").read_text("utf-8"))
    return doc


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    assert queried(exprs) <= exported(), queried(exprs) - exported()


def test_the_dashboard_shows_what_an_operator_alerts_on() -> None:
    wanted = {
        "omnirelay_inbound_total",
        "omnirelay_replies_sent_total",
        "omnirelay_replies_failed_total",
        "omnirelay_duplicates_total",
        "omnirelay_queue_depth",
        "omnirelay_queue_oldest_age_seconds",
        "omnirelay_reply_latency_seconds_bucket",
        "omnirelay_handoffs_total",
        "omnirelay_nlu_fallbacks_total",
        "omnirelay_proactive_backlog",
        "omnirelay_proactive_decisions_total",
    }
    assert wanted <= queried(dashboard_exprs())


def test_the_dashboards_panels_are_well_formed() -> None:
    doc = dashboard()
    assert doc["uid"] and doc["title"]
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for panel in doc["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        for target in panel.get("targets", []):
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert target["datasource"]["uid"] == "${datasource}"
    (variable,) = doc["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"


def test_prometheus_scrapes_every_gateway_replica_and_every_worker() -> None:
    config = yaml.safe_load((HERE / "prometheus.yml").read_text("utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    gateway, worker = jobs["omnirelay-gateway"], jobs["omnirelay-worker"]
    (dns,) = gateway["dns_sd_configs"]  # each replica, not one behind the load balancer
    assert dns["names"] == ["gateway"] and dns["port"] == 8080
    (dns,) = worker["dns_sd_configs"]
    assert dns["names"] == ["worker"] and dns["port"] == 8081
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in jobs.values())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_the_alerts_use_exported_metrics() -> None:
    rules = yaml.safe_load((HERE / "alerts.yml").read_text("utf-8"))
    exprs = [str(rule["expr"]) for group in rules["groups"] for rule in group["rules"]]
    assert exprs and queried(exprs) <= exported(), queried(exprs) - exported()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] and rule["annotations"]["summary"]


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard() -> None:
    datasources = yaml.safe_load((HERE / "grafana-datasource.yml").read_text("utf-8"))
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((HERE / "grafana-dashboards.yml").read_text("utf-8"))
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_compose_starts_prometheus_and_grafana_only_in_the_observability_profile() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"]
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), source
    assert "profiles" not in services["gateway"] and "profiles" not in services["worker"]
    mounts = {v.split(":")[1] for v in services["prometheus"]["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/alerts.yml"} <= mounts
    grafana = {v.split(":")[1] for v in services["grafana"]["volumes"]}
    assert "/var/lib/grafana/dashboards/omnirelay.json" in grafana
    assert any(m.startswith("/etc/grafana/provisioning/datasources/") for m in grafana)
    assert any(m.startswith("/etc/grafana/provisioning/dashboards/") for m in grafana)


def test_handoff_reasons_map_onto_a_few_labels() -> None:
    assert handoff_reason("customer_asked_for_a_person") == "request"
    assert handoff_reason("repeated_misunderstanding") == "misses"
    assert handoff_reason("processing_error") == "error"
    assert handoff_reason("agent_initiated") == "take_over"
    assert handoff_reason("alert:repeated_booking_failure") == "alert"
    assert handoff_reason("something new") == "other"
    assert len(set(HANDOFF_REASONS.values())) <= 8
