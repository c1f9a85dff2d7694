"""Shared fixtures: real components (Kafka) started by the suite, or given by the environment.

Locally a missing component skips its tests with the reason; under CI=true it fails them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(component: str, why: str) -> None:
    """A real component is not there: fail in CI, skip locally."""
    message = f"{component} unavailable: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing component is a failure)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Apache Kafka broker: $KAFKA_BOOTSTRAP, or one started from the project's jars."""
    given = os.environ.get("KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            missing("kafka", f"{tool} is not installed")
    port = free_port()
    data = tmp_path_factory.mktemp("kafka")
    env = {**os.environ, "KAFKA_CONTROLLER_PORT": str(free_port())}
    started = subprocess.run(
        [str(ROOT / "scripts" / "kafka.sh"), "start", str(port), str(data)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if started.returncode != 0:
        missing("kafka", f"the local broker did not start:\n{started.stdout}\n{started.stderr}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(
            [str(ROOT / "scripts" / "kafka.sh"), "stop", str(data)],
            capture_output=True,
            timeout=120,
            check=False,
        )


POSTGRES_CA: dict[str, Path] = {}  # the CA of the server the suite started


@pytest.fixture
def scenario(kafka_bootstrap: str, tmp_path: Path) -> Iterator[object]:
    """Fresh topics on the suite's broker, and the workers started on them stopped after."""
    from tests.kafka_harness import Scenario

    s = Scenario(kafka_bootstrap, tmp_path)
    s.create_topics()
    yield s
    s.stop_all()


@pytest.fixture(scope="session")
def postgres_ca(postgres_server: str) -> Path:
    """The CA that signed the suite's PostgreSQL server certificate."""
    if "path" not in POSTGRES_CA:
        missing("postgres TLS", "YUJING_TEST_POSTGRES_URL names a server whose CA is unknown")
    return POSTGRES_CA["path"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL on loopback: $YUJING_TEST_POSTGRES_URL, or one started from
    Debian's binaries in a temporary data directory (as the postgres user when root)."""
    given = os.environ.get("YUJING_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        missing("postgres", "Debian's postgresql package is not installed")
    bindir = Path(found[-1]).parent
    # outside pytest's private (0700, root-owned) tree, so the postgres user can reach it
    home = Path(tempfile.mkdtemp(prefix="yujing-pg-"))
    data = home / "data"
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(home, "postgres", "postgres")

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*as_user, *cmd], capture_output=True, text=True, timeout=120, check=False
        )

    init = run(
        str(bindir / "initdb"), "-D", str(data), "-U", "yujing", "--auth=trust", "-E", "UTF8"
    )
    if init.returncode != 0:
        missing("postgres", f"initdb failed: {init.stderr}")
    # TLS on, as production runs it: clients that ask for verify-full get it (the CA is
    # next to the data directory, see ``postgres_ca``); the others may still use plain TCP
    from tests.receivers import ca_and_server_cert

    ca, key, crt = ca_and_server_cert(home)
    if as_user:
        for path in (key, crt):
            shutil.chown(path, "postgres", "postgres")
    key.chmod(0o600)
    tls = f"-c ssl=on -c ssl_cert_file={crt} -c ssl_key_file={key}"
    start = run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(data / "server.log"),
        "-o",
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 {tls}",
        "start",
    )
    if start.returncode != 0:
        missing("postgres", f"pg_ctl start failed: {start.stderr}")
    try:
        POSTGRES_CA["path"] = ca
        yield f"postgresql+psycopg://yujing@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh ticket database in a SQLite file of this test's own."""
    return f"sqlite:///{tmp_path / 'tickets.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ticket database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tickets.db'}"
    from sqlalchemy import create_engine, text

    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


@pytest.fixture
def start_alertmanager(tmp_path: Path) -> Iterator[object]:
    """Start Debian's prometheus-alertmanager on loopback with the given routing config."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        missing("alertmanager", "the prometheus-alertmanager package is not installed")
    processes: list[subprocess.Popen[bytes]] = []

    def start(config_yaml: str) -> str:
        port = free_port()
        (tmp_path / "am.yml").write_text(config_yaml)
        log = (tmp_path / "alertmanager.log").open("wb")
        process = subprocess.Popen(
            [
                str(binary),
                f"--config.file={tmp_path / 'am.yml'}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        if not _wait_http(f"{url}/-/ready", process, 30):
            missing(
                "alertmanager",
                "did not become ready:\n" + (tmp_path / "alertmanager.log").read_text()[-2000:],
            )
        return url

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def launch_prometheus(
    tmp: Path, targets: list[str], extra: tuple[str, ...] = (), more_config: str = ""
) -> tuple[str, subprocess.Popen[bytes]]:
    """Debian's prometheus on loopback scraping ``targets`` every second; (url, process).
    Its data lives in ``tmp / "tsdb"`` (blocks put there beforehand are served)."""
    binary = shutil.which("prometheus")
    if binary is None:
        missing("prometheus", "the prometheus package is not installed")
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n  - job_name: yujing\n    static_configs:\n"
        f"      - targets: {targets!r}\n".replace("'", '"')
        + more_config
    )
    log = (tmp / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    if not _wait_http(f"{url}/-/ready", process, 60):
        process.terminate()
        missing(
            "prometheus", "did not become ready:\n" + (tmp / "prometheus.log").read_text()[-2000:]
        )
    return url, process
