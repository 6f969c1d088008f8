"""render.yaml validates against Render's published Blueprint schema and wires the app the way it runs."""

import json

import jsonschema
import yaml

from store.settings import Settings
from tests.conftest import ROOT


def blueprint() -> dict:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def test_render_yaml_matches_renders_schema():
    schema = json.loads((ROOT / "tests" / "fixtures" / "render.schema.json").read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(blueprint()), key=str)
    assert errors == []


def test_schema_check_catches_a_bad_blueprint():
    schema = json.loads((ROOT / "tests" / "fixtures" / "render.schema.json").read_text())
    bad = blueprint()
    bad["services"][0]["plan"] = "enormous"
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))


def test_web_service_runs_the_app_with_health_check_and_production_settings():
    (web,) = blueprint()["services"]
    assert web["healthCheckPath"] == "/healthz"
    assert "streamlit run streamlit_app.py" in web["startCommand"] and "$PORT" in web["startCommand"]
    env = {e["key"]: e for e in web["envVars"]}
    assert env["APP_ENV"]["value"] == "production"
    assert env["DATABASE_URL"]["fromDatabase"]["name"] == blueprint()["databases"][0]["name"]
    assert env["AUTH_SECRET"].get("generateValue") is True
    assert env["TERMINAL_PASSWORD"].get("sync") is False  # set in the dashboard, never in git
    settings_fields = {name.upper() for name in Settings.model_fields}
    # Every other variable is one of our settings (a typo would be silently ignored); these two are read by
    # Render's Python runtime and by glibc's malloc.
    assert set(env) - {"PYTHON_VERSION", "MALLOC_ARENA_MAX"} <= settings_fields
    assert env["METRICS_TOKEN"].get("sync") is False
