"""Configuration: every MOJULE_* setting is documented, required ones stop startup by name."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mojule import config, create_app
from mojule.crypto import generate_master_key

README = Path(__file__).parent.parent / "README.rst"


def test_readme_documents_every_setting():
    readme = README.read_text()

    missing = [s.name for s in config.SETTINGS if f"``{s.name}``" not in readme]

    assert missing == []


@pytest.mark.parametrize("environ, variable", [
    ({"MOJULE_MASTER_KEY": generate_master_key()}, "MOJULE_DATABASE_URL"),
    ({"MOJULE_DATABASE_URL": "postgresql:///x"}, "MOJULE_MASTER_KEY"),
    ({"MOJULE_DATABASE_URL": "postgresql:///x", "MOJULE_MASTER_KEY": "not base64!"},
     "MOJULE_MASTER_KEY"),
    ({"MOJULE_DATABASE_URL": "postgresql:///x", "MOJULE_MASTER_KEY": "c2hvcnQ="},
     "MOJULE_MASTER_KEY"),
    ({"MOJULE_DATABASE_URL": "postgresql:///x", "MOJULE_MASTER_KEY": generate_master_key(),
      "MOJULE_POOL_SIZE": "zero"}, "MOJULE_POOL_SIZE"),
    ({"MOJULE_DATABASE_URL": "postgresql:///x", "MOJULE_MASTER_KEY": generate_master_key(),
      "MOJULE_TRUSTED_PROXIES": "10.0.0.0/33"}, "MOJULE_TRUSTED_PROXIES"),
    ({"MOJULE_DATABASE_URL": "postgresql:///x", "MOJULE_MASTER_KEY": generate_master_key(),
      "MOJULE_LOG_LEVEL": "LOUD"}, "MOJULE_LOG_LEVEL"),
])
def test_missing_or_malformed_setting_is_named(environ, variable):
    with pytest.raises(config.ConfigError, match=variable):
        config.load(environ=environ)


@pytest.mark.parametrize("variable", ["MOJULE_DATABASE_URL", "MOJULE_OWNER_DATABASE_URL"])
def test_a_malformed_database_url_is_named_without_its_password(variable):
    environ = {"MOJULE_DATABASE_URL": "postgresql:///x", "MOJULE_MASTER_KEY": generate_master_key(),
               variable: "host=db password=s3cret-Passw0rd dbname"}

    with pytest.raises(config.ConfigError, match=variable) as error:
        config.load(environ=environ)

    assert "s3cret" not in str(error.value)


def test_error_never_echoes_the_master_key():
    bad_key = "A" * 43 + "="   # valid base64, 32 bytes short by one character's worth

    with pytest.raises(config.ConfigError) as error:
        config.load(environ={"MOJULE_DATABASE_URL": "postgresql:///x", "MOJULE_MASTER_KEY": bad_key[:-4]})

    assert bad_key[:20] not in str(error.value)


def test_app_factory_refuses_to_start_without_a_master_key(monkeypatch):
    monkeypatch.setenv("MOJULE_DATABASE_URL", "postgresql:///x")
    monkeypatch.delenv("MOJULE_MASTER_KEY", raising=False)

    with pytest.raises(config.ConfigError, match="MOJULE_MASTER_KEY"):
        create_app()


@pytest.mark.parametrize("workers", ["two", "0"])
def test_gunicorn_names_a_malformed_worker_count(workers):
    # gunicorn.conf.py reads MOJULE_WORKERS itself: int() failed with a traceback.
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                          "--check-config"], cwd=root, capture_output=True, text=True,
                         check=False, env={**os.environ, "MOJULE_WORKERS": workers})

    assert run.returncode != 0
    assert "MOJULE_WORKERS is malformed" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("level", ["warn", "WARNING", "fatal", "Debug"])
def test_log_levels_take_pythons_names_and_aliases(level):
    environ = {"MOJULE_DATABASE_URL": "postgresql:///x", "MOJULE_MASTER_KEY": generate_master_key(),
               "MOJULE_LOG_LEVEL": level}

    assert config.load(environ=environ)["LOG_LEVEL"] == level.upper()

