"""The Render Blueprints (one service; the scaled-out pair) validate against Render's schema and wire the app right."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from dashboard.web.startup import derived_cookie_secret
from store.settings import Settings
from tests.conftest import ROOT
from tests.support.server import guarded_env

SINGLE = ROOT / "render.yaml"
SCALED = ROOT / "deploy" / "render.scaled.yaml"
SCHEMA = ROOT / "tests" / "fixtures" / "render.schema.json"
START_COMMAND = "streamlit run streamlit_app.py --server.port $PORT --server.address 0.0.0.0"
# Asked for when the Blueprint is created, kept in Render's dashboard, never in git.
PROMPTED = {"TERMINAL_USER", "TERMINAL_PASSWORD", "FRED_API_KEY", "ALPHAVANTAGE_API_KEY", "METRICS_TOKEN"}
# Read by Render's Python runtime and by glibc's malloc, not by our settings.
NOT_SETTINGS = {"PYTHON_VERSION", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_"}


def blueprint(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def schema_errors(document: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    return sorted(f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document))


def env_of(service: dict) -> dict[str, dict]:
    return {e["key"]: e for e in service["envVars"]}


def service(document: dict, kind: str) -> dict:
    (found,) = [s for s in document["services"] if s["type"] == kind]
    return found


@pytest.mark.parametrize("path", [SINGLE, SCALED], ids=["render.yaml", "render.scaled.yaml"])
def test_blueprint_matches_renders_schema(path):
    assert schema_errors(blueprint(path)) == []


@pytest.mark.parametrize("path", [SINGLE, SCALED], ids=["render.yaml", "render.scaled.yaml"])
def test_schema_check_catches_a_bad_blueprint(path):
    bad = blueprint(path)
    bad["services"][0]["plan"] = "enormous"
    bad["services"][0]["envVars"].append({"key": "X", "fromDatabse": {"name": "typo"}})
    assert len(schema_errors(bad)) == 2


def test_web_service_runs_the_app_with_health_check_and_production_settings():
    document = blueprint(SINGLE)
    (web,) = document["services"]
    assert (web["type"], web["runtime"]) == ("web", "python")
    assert web["buildCommand"] == "pip install -r requirements.txt"
    assert web["startCommand"] == START_COMMAND
    assert web["healthCheckPath"] == "/healthz"
    env = env_of(web)
    assert env["APP_ENV"]["value"] == "production"
    assert env["PYTHON_VERSION"]["value"].startswith("3.11.")
    (database,) = document["databases"]
    assert env["DATABASE_URL"]["fromDatabase"] == {"name": database["name"], "property": "connectionString"}
    assert env["AUTH_SECRET"] == {"key": "AUTH_SECRET", "generateValue": True}
    assert {key for key, e in env.items() if e.get("sync") is False} == PROMPTED
    assert all("value" not in env[key] for key in PROMPTED)
    # Every other variable is one of our settings: a typo would be silently ignored.
    assert set(env) - NOT_SETTINGS <= {name.upper() for name in Settings.model_fields}
    # The single service runs its own worker (the default), so nothing turns it off.
    assert "WORKER_ENABLED" not in env


def test_scaled_blueprint_runs_several_pages_only_instances_and_one_background_worker():
    single, scaled = blueprint(SINGLE), blueprint(SCALED)
    web, worker = service(scaled, "web"), service(scaled, "worker")
    assert web["numInstances"] >= 2
    assert env_of(web)["WORKER_ENABLED"]["value"] == "false"
    # Apart from the instances and the worker switch, the web service is the single Blueprint's.
    (single_web,) = single["services"]
    for key in ("name", "runtime", "buildCommand", "startCommand", "healthCheckPath"):
        assert web[key] == single_web[key], key
    assert {k: v for k, v in env_of(web).items() if k != "WORKER_ENABLED"} == env_of(single_web)
    assert web["preDeployCommand"] == "python -m ingestion migrate"
    assert scaled["databases"] == single["databases"]

    assert worker["startCommand"] == "python -m ingestion worker"
    assert worker["buildCommand"] == single_web["buildCommand"]
    worker_env = env_of(worker)
    assert worker_env["DATABASE_URL"] == env_of(web)["DATABASE_URL"]  # the same database, hence the same queue
    assert worker_env["APP_ENV"]["value"] == "production"
    # The worker checks the production settings and calls the providers: the web service's own values.
    for key in ("AUTH_SECRET", "TERMINAL_USER", "TERMINAL_PASSWORD", "FRED_API_KEY", "ALPHAVANTAGE_API_KEY"):
        assert worker_env[key]["fromService"] == {"type": "web", "name": web["name"], "envVarKey": key}, key
    assert set(worker_env) - NOT_SETTINGS <= {name.upper() for name in Settings.model_fields}


GLIBC = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")

# In a fresh interpreter: free one 1 MiB block, allocate another, report whether glibc mapped it on its own
# (mallinfo2's hblkhd: bytes in mmapped blocks). glibc's default raises the threshold above 1 MiB at the free.
MAPPED_AFTER_A_FREE = """
import ctypes
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Info
libc.free(libc.malloc(1 << 20))
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblkhd >= 1 << 20)
"""


def test_every_deployment_ships_the_same_glibc_settings_and_they_keep_large_blocks_mapped():
    single, scaled = blueprint(SINGLE), blueprint(SCALED)
    (web,) = single["services"]
    shipped = {key: env_of(web)[key]["value"] for key in GLIBC}
    for kind in ("web", "worker"):
        assert {key: env_of(service(scaled, kind))[key]["value"] for key in GLIBC} == shipped, kind
    image = (ROOT / "Dockerfile").read_text()
    assert all(f"{key}={value} " in image for key, value in shipped.items())

    def mapped(env: dict[str, str]) -> bool:
        run = subprocess.run([sys.executable, "-c", MAPPED_AFTER_A_FREE], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip() == "True"

    plain = {k: v for k, v in guarded_env({}).items() if not k.startswith("MALLOC_")}
    assert mapped({**plain, **shipped})  # the second block is mapped, so freeing it gives it back at once
    assert not mapped(plain)  # glibc's default: it comes from the heap and stays there once freed


def test_blueprints_and_compose_run_the_same_postgresql_major_version():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    image_major = compose["services"]["db"]["image"].split(":")[1].split(".")[0]
    for path in (SINGLE, SCALED):
        (database,) = blueprint(path)["databases"]
        assert database["postgresMajorVersion"] == image_major == "16", path.name


def test_migrations_and_the_sample_load_work_on_postgresql_16(tmp_path):
    """Render's and compose's major version: the embedded server's PostgreSQL 16 binaries (CI's server is 15)."""
    env = guarded_env({"DATA_DIR": str(tmp_path), "PGSERVER_POSTGRES_VERSION": "16", "LOG_FORMAT": "text"})
    done = subprocess.run(
        [sys.executable, "-m", "ingestion", "load-sample"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "daily_bars: " in done.stdout
    assert (tmp_path / "pgdata" / "PG_VERSION").read_text().strip() == "16"


# -- several web instances: one Streamlit cookie secret ------------------------------------------------------

COOKIE_SECRET_OF_A_PROCESS = """
import hashlib
import streamlit_app  # what `streamlit run` loads: start-up configures the app before the server builds it
from streamlit.web.server.server_util import get_cookie_secret
print(hashlib.sha256(get_cookie_secret().encode()).hexdigest())
"""


def cookie_secret_digest(**env: str) -> str:
    """The sha256 of the cookie secret Streamlit signs with in a fresh process started with `env`."""
    done = subprocess.run(
        [sys.executable, "-c", COOKIE_SECRET_OF_A_PROCESS],
        cwd=ROOT,
        env=guarded_env({"LOG_FORMAT": "text", **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def production_env(auth_secret: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "AUTH_SECRET": auth_secret,
        "TERMINAL_PASSWORD": secrets.token_urlsafe(24),
        "DATABASE_URL": "postgresql://market_desk@127.0.0.1:9/market_desk",  # never connected to here
    }


def test_two_production_processes_sign_streamlit_cookies_with_one_secret_derived_from_auth_secret():
    auth_secret = secrets.token_urlsafe(48)
    env = production_env(auth_secret)
    first, second = cookie_secret_digest(**env), cookie_secret_digest(**env)
    # Left alone, Streamlit draws a random secret in each process (token_hex): the two would differ.
    assert first == second == hashlib.sha256(derived_cookie_secret(auth_secret).encode()).hexdigest()
    # Not AUTH_SECRET itself, and another AUTH_SECRET (a rotation) gives another cookie secret.
    assert derived_cookie_secret(auth_secret) != auth_secret
    assert derived_cookie_secret(secrets.token_urlsafe(48)) != derived_cookie_secret(auth_secret)


def test_an_explicit_streamlit_cookie_secret_wins_over_the_derived_one():
    explicit = secrets.token_hex(32)
    env = {**production_env(secrets.token_urlsafe(48)), "STREAMLIT_SERVER_COOKIE_SECRET": explicit}
    assert cookie_secret_digest(**env) == hashlib.sha256(explicit.encode()).hexdigest()
