"""Secrets come from the environment, or from a file the environment names."""

from __future__ import annotations

import pytest

from shopfloor.settings import SettingsError, settings
from tests.support import run_cli


def test_token_from_a_file(tmp_path, monkeypatch):
    (tmp_path / "collector.token").write_text("s3cret-token\n")
    monkeypatch.delenv("SHOPFLOOR_INFLUX_TOKEN", raising=False)
    monkeypatch.setenv("SHOPFLOOR_INFLUX_TOKEN_FILE", str(tmp_path / "collector.token"))
    assert settings().influx_token.get_secret_value() == "s3cret-token"
    monkeypatch.setenv("SHOPFLOOR_INFLUX_TOKEN", "from-env")
    assert settings().influx_token.get_secret_value() == "from-env"  # the variable wins


def test_a_missing_token_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPFLOOR_INFLUX_TOKEN", raising=False)
    monkeypatch.setenv("SHOPFLOOR_INFLUX_TOKEN_FILE", str(tmp_path / "nope"))
    with pytest.raises(SettingsError, match=r"SHOPFLOOR_INFLUX_TOKEN_FILE: cannot read .*nope"):
        settings()
    proc = run_cli(
        "dash",
        "--store",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--auth",
        "a:b",
        "--broker",
        "mqtt://localhost:1",
    )
    assert proc.returncode == 1
    assert (
        "SHOPFLOOR_INFLUX_TOKEN_FILE: cannot read" in proc.stderr and "Traceback" not in proc.stderr
    )
