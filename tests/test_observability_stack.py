"""The observability stack a `use_observability` render ships (I01, I04), checked as its tools
would: Debian's promtool on the scrape configuration, Debian's Prometheus scraping the rendered
service, the dashboard's queries against the metrics the service really exports, and the
collector's pipelines against the components it defines.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kiln_tools.matrix import default_combination_apart, dimensions
from kiln_tools.steps import Workshop, running_service, sync
from kiln_tools.tooling import free_port

pytestmark = pytest.mark.slow
PACKAGE = "kiln_demo"
# PromQL words that are not metric names.
PROMQL_WORDS = {"sum", "rate", "by", "le", "histogram_quantile", "route", "job", "outcome"}


@pytest.fixture(scope="module")
def project(workshop: Workshop) -> Path:
    """The `--defaults` render, which has observability on."""
    combination = default_combination_apart()
    assert combination.answers["use_observability"] is True
    build = workshop.build(combination, dimensions())
    sync(build)
    return build.project


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def service(project: Path, metrics_port: int) -> Iterator[str]:
    """The rendered service in production mode, on the machine's PostgreSQL and Redis, with its
    metrics on a port of their own (METRICS_PORT) as deployed, a free one here."""
    settings = {"METRICS_PORT": str(metrics_port)}
    with running_service(project, PACKAGE, "kiln_observability_stack", settings) as url:
        yield url


def exported_metric_names(url: str) -> set[str]:
    """The sample names of a Prometheus text exposition (`name{labels} value`) at `url`."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local
        text = response.read().decode()
    return {
        re.split(r"[{\s]", line, maxsplit=1)[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    aggregation words, label names in `by (...)`, label matchers or durations."""
    bare = re.sub(r"\{[^}]*\}", "", expression)
    bare = re.sub(r"\b(by|without)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    identifiers = re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", bare)
    return {found[1] for found in identifiers if not found[2] and found[1] not in PROMQL_WORDS}


def test_i04_promtool_accepts_the_scrape_configuration(project: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: .ci/run installs Debian's prometheus package"
    result = subprocess.run(
        [promtool, "check", "config", str(project / "observability/prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_i04_every_dashboard_query_selects_metrics_the_service_exports(
    project: Path, service: str, metrics_port: int
) -> None:
    dashboard = json.loads((project / "observability/grafana/dashboards/service.json").read_text())
    datasources = yaml.safe_load(
        (project / "observability/grafana/provisioning/datasources/datasources.yaml").read_text()
    )
    known_sources = {source["uid"] for source in datasources["datasources"]}
    # Requests of the kinds the panels show, so their series exist.
    for path in ("/health/live", "/api/v1/notes", "/api/v1/no-such-thing"):
        _ignore_status(f"{service}{path}")
    exported = exported_metric_names(f"http://127.0.0.1:{metrics_port}/metrics")
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(f"{service}/metrics", timeout=5)  # noqa: S310 - not on the public port

    queried: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in known_sources, panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, target["expr"]
            queried |= names
    # Job metrics come from the workers: they are checked in the generated suite.
    from_the_api = {name for name in queried if not name.startswith("job_")}
    assert from_the_api <= exported, from_the_api - exported
    titles = " ".join(panel["title"] for panel in dashboard["panels"])
    for subject in ("Requests per second", "Errors", "Latency", "Database pool", "Cache", "Jobs"):
        assert subject in titles


def _ignore_status(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=5).close()  # noqa: S310 - local
    except urllib.error.HTTPError as answered:
        answered.close()


def test_i04_the_collector_pipelines_use_only_components_it_defines(project: Path) -> None:
    config = yaml.safe_load((project / "observability/otel-collector.yaml").read_text())
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], (kind, component)
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    assert {"otel-collector", "jaeger", "prometheus", "grafana"} <= set(compose["services"])
    endpoint = compose["x-app"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint == "http://otel-collector:4318"


def test_i01_i04_prometheus_scrapes_the_service_with_the_generated_configuration(
    project: Path, service: str, metrics_port: int, tmp_path: Path
) -> None:
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is missing: .ci/run installs Debian's prometheus package"
    config = yaml.safe_load((project / "observability/prometheus.yml").read_text())
    (api,) = [job for job in config["scrape_configs"] if job["job_name"] == "api"]
    # Compose's `api:9190` is this machine's metrics port here; the public port has no /metrics.
    assert api["static_configs"] == [{"targets": ["api:9190"]}]
    api["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    api["scrape_interval"] = "1s"
    # The worker's job points at compose's DNS name; only the API runs here.
    config["scrape_configs"] = [api]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    server = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _ignore_status(f"{service}/api/v1/no-such-thing")
        query = f"http://127.0.0.1:{port}/api/v1/query?query=http_requests_total"
        deadline = time.monotonic() + 60
        results: list[dict[str, object]] = []
        while time.monotonic() < deadline and not results:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(query, timeout=5) as response:
                    results = json.loads(response.read())["data"]["result"]
            except OSError:
                continue
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v1/targets", timeout=5
        ) as response:
            targets = json.loads(response.read())["data"]["activeTargets"]
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[0]
    assert [target["health"] for target in targets] == ["up"], log[-3000:]
    routes = {result["metric"]["route"] for result in results}  # type: ignore[index]
    assert "unmatched" in routes, results
