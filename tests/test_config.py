"""Configuration: defaults, TOML file, environment overrides, bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackbox import config


def test_defaults_and_derived_values(tmp_path: Path) -> None:
    cfg = config.load(env={"STACKBOX_DEFAULT__STATE_DIR": str(tmp_path)})
    assert cfg.get("api", "port") == 8080
    assert cfg.api.port == 8080
    assert cfg.get("service", "service_down_time") == 60.0
    assert cfg.database_url == f"sqlite:///{tmp_path}/stackbox.db"
    assert cfg.public_url == "http://127.0.0.1:8080"


def test_file_then_env_then_overrides(tmp_path: Path) -> None:
    f = tmp_path / "sbx.toml"
    f.write_text(
        '[api]\nport = 9000\nbind = "10.0.0.5"\n[database]\n'
        'connection = "postgresql+psycopg://u:secret@db/x"\n'
    )
    cfg = config.load(f, env={"STACKBOX_API__PORT": "9100"})
    assert cfg.get("api", "port") == 9100
    assert cfg.public_url == "http://10.0.0.5:9100"
    cfg = config.load(f, env={}, overrides={("api", "port"): 9200})
    assert cfg.get("api", "port") == 9200
    rows = {k: (v, src) for k, v, src, _ in cfg.rows()}
    assert rows["api.port"] == ("9200", "command line")
    assert rows["api.bind"][1].startswith("file ")
    assert "secret" not in rows["database.connection"][0]


def test_bad_values_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"api\.port"):
        config.load(env={"STACKBOX_API__PORT": "eighty"})
    f = tmp_path / "bad.toml"
    f.write_text("[api]\nnot_an_option = 1\n")
    with pytest.raises(config.ConfigError, match=r"unknown option api\.not_an_option"):
        config.load(f, env={})
    f.write_text("[api\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(f, env={})
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.toml", env={})


def test_every_option_is_documented() -> None:
    for opt in config.OPTIONS:
        assert opt.help and opt.help.strip(), opt
