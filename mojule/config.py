"""Configuration: every MOJULE_* environment variable, listed once, checked at startup.

The server (gunicorn) and the cron-run CLI read the same environment, so there is no
separate config file to keep in sync. README.rst has the same table for operators.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from mojule.crypto import InvalidMasterKey, load_master_key


class ConfigError(Exception):
    """A MOJULE_* setting is missing or malformed; the message names the variable."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _log_level(text: str) -> str:
    # Python's own level names, aliases included (WARN, FATAL): what setLevel takes.
    level = text.strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _key_list(text: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in text.split(",") if key.strip())


def _public_keys(text: str) -> tuple[bytes, ...]:
    keys = []
    for item in _key_list(text):
        try:
            key = base64.b64decode(item, validate=True)
        except binascii.Error:
            raise ValueError(f"{item!r} is not base64") from None
        if len(key) != 32:
            raise ValueError(f"{item!r} is not a raw Ed25519 public key (32 bytes)")
        keys.append(key)
    return tuple(keys)


def _database_url(text: str) -> str:
    """A libpq URL or key=value string, checked now rather than at the first request."""
    if text:
        try:
            psycopg.conninfo.conninfo_to_dict(text)
        except psycopg.ProgrammingError:
            # libpq's message may quote the string, password included: not repeated.
            raise ValueError("not a libpq URL (postgresql://...) or key=value string") from None
    return text


def parse_networks(text: str) -> tuple:
    return tuple(ipaddress.ip_network(item.strip(), strict=False)
                 for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class Setting:
    name: str                       # the environment variable
    default: str | None             # None means required
    parse: Callable[[str], Any]
    doc: str


SETTINGS = (
    Setting("MOJULE_DATABASE_URL", None, _database_url,
            "PostgreSQL URL the server and CLI connect with (libpq URL or key=value string)."),
    Setting("MOJULE_OWNER_DATABASE_URL", "", _database_url,
            "URL of the role that owns the schema, used by `mojule init-db` only; "
            "defaults to MOJULE_DATABASE_URL."),
    Setting("MOJULE_MASTER_KEY", None, str,
            "Base64 of 32 random bytes; wraps every org's data keys. Keep it out of backups."),
    Setting("MOJULE_MASTER_KEY_PREVIOUS", "", str,
            "The previous master key while `mojule keys rotate-master` runs; empty otherwise."),
    Setting("MOJULE_DATA_KEY_DAYS", "30", _positive_int,
            "Days an org's data key encrypts new content before a new one takes over; "
            "`mojule purge` destroys a retired key once its content is gone."),
    Setting("MOJULE_MAX_BODY_BYTES", str(20 * 1024 * 1024), _positive_int,
            "Largest request body accepted, measured after decompression (413 above it)."),
    Setting("MOJULE_POOL_SIZE", "4", _positive_int,
            "PostgreSQL connections per gunicorn worker."),
    Setting("MOJULE_STATEMENT_TIMEOUT_MS", "5000", _positive_int,
            "Statement timeout for request queries; kept below the exporter's 10 s budget."),
    Setting("MOJULE_RETRY_AFTER_SECONDS", "2", _positive_int,
            "Retry-After sent with 503 when the database is unavailable (exporters give up past ~10 s)."),
    Setting("MOJULE_CONTENT_KEYS", "", _key_list,
            "Extra attribute keys to treat as content (encrypted), comma-separated, added to the built-in list."),
    Setting("MOJULE_CONTENT_LONG_STRING", "1024", _positive_int,
            "Any other string attribute at least this many characters long is stored encrypted too."),
    Setting("MOJULE_TRUSTED_PROXIES", "", parse_networks,
            "Networks of reverse proxies whose X-Forwarded-For is believed, comma-separated CIDRs."),
    Setting("MOJULE_LOG_LEVEL", "INFO", _log_level,
            "Python log level for the app's own log lines."),
    Setting("MOJULE_LICENSE_PUBLIC_KEYS", "", _public_keys,
            "Extra keys that may sign the on-prem license (base64 raw Ed25519, comma-separated); "
            "the vendor's key is built in."),
    Setting("MOJULE_LICENSE_CHECK_SECONDS", "15", _positive_int,
            "How long each worker reuses its license-policy decision before asking the database again."),
    Setting("MOJULE_METRICS_ALLOW", "127.0.0.0/8,::1/128", parse_networks,
            "Networks allowed to read GET /metrics, comma-separated CIDRs (others get 404)."),
)


def load(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None,
         optional: frozenset[str] = frozenset()) -> dict:
    """Return the settings as a dict keyed by variable name without the MOJULE_ prefix.

    Values come from the defaults, then the environment, then ``overrides`` (tests).
    A required variable named in ``optional`` may be missing: its value is then "".
    Raises ConfigError naming the first missing or malformed variable.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        key = setting.name.removeprefix("MOJULE_")
        if key in overrides:
            config[key] = overrides[key]
            continue
        text = environ.get(setting.name, setting.default)
        if text is None or (text == "" and setting.default is None):
            if setting.name in optional:
                config[key] = ""
                continue
            raise ConfigError(f"{setting.name} is not set: {setting.doc}")
        try:
            config[key] = setting.parse(text)
        except ValueError as exc:
            raise ConfigError(f"{setting.name} is malformed ({exc}): {setting.doc}") from None
    config["MASTER_KEYS"] = _master_keys(config)
    return config


def _master_keys(config: dict) -> tuple:
    """Parse the master key (and the previous one during rotation); newest first."""
    try:
        keys = [load_master_key(config["MASTER_KEY"], "MOJULE_MASTER_KEY")]
        if config["MASTER_KEY_PREVIOUS"]:
            keys.append(load_master_key(config["MASTER_KEY_PREVIOUS"], "MOJULE_MASTER_KEY_PREVIOUS"))
    except InvalidMasterKey as exc:
        raise ConfigError(str(exc)) from None
    return tuple(keys)
