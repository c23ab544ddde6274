"""The Prometheus endpoint (`metricsProvider.className=...PrometheusMetricsProvider`): what a
scraper reads from `/metrics` parses with the Prometheus client library's own parser, carries
Apache's metric names and agrees with `mntr`; bad requests close only their connection.

zk-server only: Debian's Apache ZooKeeper ships without the Prometheus provider's jars.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import urllib.error
import urllib.request
from typing import Dict

import pytest
from kazoo.client import KazooClient
from prometheus_client.parser import text_string_to_metric_families

from support import HOST, REPO_ROOT, raw_http_answer, free_port, wait_until

pytestmark = pytest.mark.zk_only

PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


@pytest.fixture
def served(server_factory, zk_target):
    port = free_port()
    server = server_factory.start(zk_target, {
        "metricsProvider.className": PROVIDER,
        "metricsProvider.httpHost": HOST,
        "metricsProvider.httpPort": str(port),
    })
    return server, port


SUMMARIES = ("readlatency", "updatelatency", "fsynctime", "snapshottime")


def scrape(port: int) -> Dict[str, float]:
    """Every sample by name (a summary's quantiles as name{quantile})."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    values = {}
    for family in text_string_to_metric_families(text):
        assert family.type == ("summary" if family.name in SUMMARIES else "gauge"), family
        for sample in family.samples:
            quantile = sample.labels.get("quantile")
            values[f"{sample.name}{{{quantile}}}" if quantile else sample.name] = sample.value
    return values


def mntr(port: int) -> Dict[str, str]:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(b"mntr")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return dict(line.split("\t", 1) for line in data.decode().splitlines() if "\t" in line)


def test_metrics_parse_carry_apaches_names_and_follow_the_tree(served):
    server, port = served
    before = scrape(port)
    for name in ("znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
                 "outstanding_requests", "num_alive_connections", "packets_received",
                 "packets_sent", "avg_latency", "max_latency", "min_latency",
                 "global_sessions", "uptime"):
        assert name in before, sorted(before)
    client = KazooClient(hosts=server.address)
    client.start(timeout=30)
    try:
        for i in range(5):
            client.create(f"/metrics-{i}", b"x" * 10)
        client.create("/metrics-eph", b"", ephemeral=True)
        client.get("/metrics-0", watch=lambda event: None)
        after = scrape(port)
        assert after["znode_count"] == before["znode_count"] + 6
        assert after["ephemerals_count"] == before["ephemerals_count"] + 1
        assert after["watch_count"] >= before["watch_count"] + 1
        assert after["num_alive_connections"] >= 1
        # The same numbers mntr reports (no writes in between).
        reported = mntr(server.port)
        assert float(reported["zk_znode_count"]) == after["znode_count"]
        assert float(reported["zk_ephemerals_count"]) == after["ephemerals_count"]
        # Latency summaries in milliseconds: the 6 creates are updates, the get a read.
        assert after["updatelatency_count"] >= before["updatelatency_count"] + 6
        assert after["readlatency_count"] >= before["readlatency_count"] + 1
        assert after["fsynctime_count"] >= before["fsynctime_count"] + 1
        for name in ("updatelatency", "readlatency", "fsynctime"):
            p50, p99 = after[f"{name}{{0.5}}"], after[f"{name}{{0.99}}"]
            assert 0 < p50 <= p99 < 60_000, (name, p50, p99)
            assert after[f"{name}_sum"] > 0
    finally:
        client.stop()
        client.close()


def test_bad_requests_close_only_their_connection(served):
    server, port = served
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://{HOST}:{port}/nothing", timeout=10)
    assert missing.value.code == 404
    request = urllib.request.Request(f"http://{HOST}:{port}/metrics", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405

    def answer_to(raw: bytes) -> bytes:
        return raw_http_answer(port, raw)

    assert answer_to(b"\x16\x03\x01\x02\x00garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert answer_to(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 431")
    assert answer_to(b"GET /metrics HTTP/1.1\r\n") == b""  # closed before a whole head
    # Many idle sockets at once: past the cap they are closed on accept, the client port
    # keeps serving meanwhile, and the endpoint serves again once they are gone.
    idle = [socket.create_connection((HOST, port), timeout=10) for _ in range(100)]
    try:
        assert int(mntr(server.port)["zk_znode_count"]) >= 1
    finally:
        for sock in idle:
            sock.close()

    def scraped() -> bool:
        try:
            return "znode_count" in scrape(port)
        except (OSError, http.client.HTTPException):
            return False

    wait_until(scraped, 20, "the metrics endpoint serving again")


def test_the_grafana_dashboard_asks_only_for_metrics_the_server_exports(served):
    """docs/grafana/zk-server.json: every metric a panel queries is on /metrics."""
    _, port = served
    dashboard = json.loads((REPO_ROOT / "docs" / "grafana" / "zk-server.json").read_text())
    exported = {name.split("{")[0] for name in scrape(port)}
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            # Metric names are the identifiers right before a label selector.
            queried.update(re.findall(r"([a-z_][a-z0-9_]*)\{", target["expr"]))
    assert len(queried) >= 10, queried
    assert queried <= exported, sorted(queried - exported)


def test_an_ensemble_reports_replication_and_election(server_factory, zk_target):
    """zk's own gauges on every member: one leader, the same term, entries applied
    everywhere, and the leader's view of how far behind its followers are."""
    ports = {}

    def with_metrics(myid: int) -> Dict[str, str]:
        ports[myid] = free_port()
        return {"metricsProvider.className": PROVIDER,
                "metricsProvider.httpHost": HOST,
                "metricsProvider.httpPort": str(ports[myid])}

    members = server_factory.start_ensemble("zk", 3, with_metrics)
    client = KazooClient(hosts=",".join(m.address for m in members))
    client.start(timeout=30)
    try:
        for i in range(10):
            client.create(f"/replicated-{i}", b"x")
    finally:
        client.stop()
        client.close()

    def settled():
        scraped = [scrape(port) for port in ports.values()]
        leaders = [s for s in scraped if s["is_leader"] == 1]
        applied = {s["raft_last_applied_index"] for s in scraped}
        if len(leaders) != 1 or len(applied) != 1 or leaders[0].get(
                "max_follower_lag_entries") != 0:
            return None
        return scraped

    scraped = wait_until(settled, 30, "one leader, every member applied, no lag")
    assert {s["quorum_size"] for s in scraped} == {3}
    assert len({s["election_term"] for s in scraped}) == 1
    assert all(s["leader_known"] == 1 for s in scraped)
    assert scraped[0]["raft_last_applied_index"] >= 10
    assert sum("max_follower_lag_entries" in s for s in scraped) == 1
    # Every member's raft log fsyncs are timed.
    assert all(s["fsynctime_count"] >= 1 for s in scraped)
