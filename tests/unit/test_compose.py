"""docker-compose.yml stays true to the repo: mounted files exist, named services exist."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_mounted_file_exists_in_the_repo():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE.get("volumes", {}), f"{name}: unknown volume {source}"
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").exists()


def test_every_named_service_is_configured():
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", []):
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
    expected = {
        "kafka",
        "postgres",
        "prometheus",
        "alertmanager",
        "grafana",
        "yujing-worker-1",
        "yujing-worker-2",
    }
    assert expected <= SERVICES.keys()
    worker_env = SERVICES["yujing-worker-1"]["environment"]
    assert worker_env["KAFKA_BOOTSTRAP"].split(":")[0] in SERVICES
    assert "@postgres:" in worker_env["YUJING_DATABASE_URL"]


def test_prometheus_scrapes_the_workers_and_knows_alertmanager():
    prom = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        t for job in prom["scrape_configs"] for cfg in job["static_configs"] for t in cfg["targets"]
    }
    for target in targets:
        host, port = target.split(":")
        assert host in SERVICES
        env = SERVICES[host].get("environment", {})
        assert env.get("YUJING_WEB_PORT") == port, target
    am = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert am.split(":")[0] in SERVICES


def test_alertmanager_mails_through_a_service_compose_runs():
    am = yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    assert am["global"]["smtp_smarthost"].split(":")[0] in SERVICES
    for receiver in am["receivers"]:
        assert any(k.endswith("_configs") for k in receiver), f"{receiver['name']} is empty"
