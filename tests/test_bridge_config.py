"""[bridge] settings: every mistake named at start, secrets kept out of the config, and the
command's failures as one-line messages."""

from __future__ import annotations

import pytest

from monitor.cli.bridge import read_password
from monitor.cli.main import main
from monitor.config.load import ConfigError, parse_config


def problems(bridge: dict) -> list[str]:
    try:
        parse_config({"bridge": bridge})
    except ConfigError as err:
        return err.problems
    return []


def test_the_defaults_are_a_dashboard_on_loopback_and_no_mqtt():
    bridge = parse_config({}).bridge
    assert (bridge.dashboard_bind, bridge.mqtt_host, bridge.discovery_prefix) == ("127.0.0.1", "", "homeassistant")


@pytest.mark.parametrize("bridge, message", [
    ({"device_id": "Spare Room"}, 'bridge.device_id is "Spare Room"'),
    ({"topic_prefix": "treadguard/#"}, "bridge.topic_prefix"),
    ({"discovery_prefix": "/homeassistant"}, "bridge.discovery_prefix"),
    ({"mqtt_password_file": "/etc/treadguard/mqtt-password"}, "mqtt_username is empty"),
    ({"mqtt_tls": True, "mqtt_cert_file": "/etc/c.pem"}, "needs its key"),
    ({"mqtt_ca_file": "/etc/ca.pem"}, "mqtt_tls is false"),
    ({"dashboard_bind": "my-pi.local"}, "must be an IP address"),
    ({"mqtt_password": "hunter2"}, "bridge.mqtt_password: unknown setting"),  # no password in the config
    ({"dashboard_port": 70000}, "bridge.dashboard_port is 70000"),
])
def test_each_mistake_is_named(bridge, message):
    found = problems(bridge)
    assert any(message in p for p in found), found


def test_a_lan_dashboard_and_tls_with_a_client_certificate_are_fine():
    assert problems({"dashboard_bind": "0.0.0.0", "mqtt_tls": True, "mqtt_ca_file": "/etc/ca.pem",
                     "mqtt_cert_file": "/etc/c.pem", "mqtt_key_file": "/etc/k.pem", "mqtt_username": "tg",
                     "mqtt_password_file": "/etc/p"}) == []
    assert problems({"dashboard_bind": "::1", "mqtt_tls": True, "mqtt_ca_file": "/etc/ca.pem"}) == []


def test_the_password_is_the_first_line_of_its_file(tmp_path, capsys):
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret\nignored\n")
    secret.chmod(0o640)
    assert read_password(str(secret)) == "s3cret" and capsys.readouterr().err == ""
    secret.chmod(0o644)
    read_password(str(secret))
    assert "readable by every user" in capsys.readouterr().err
    secret.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        read_password(str(secret))


def test_the_command_reports_a_bad_config_and_a_missing_password_file_in_one_line_each(tmp_path, capsys):
    config = tmp_path / "treadguard.toml"
    config.write_text('[bridge]\ndevice_id = "Spare Room"\n')
    assert main(["bridge", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "bridge.device_id" in err and "the bridge was not started" in err and "Traceback" not in err
    config.write_text(f'[bridge]\nmqtt_host = "127.0.0.1"\nmqtt_username = "tg"\n'
                      f'mqtt_password_file = "{tmp_path / "nope"}"\nsession_db = "{tmp_path / "s.sqlite"}"\n')
    assert main(["bridge", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "bridge.mqtt_password_file" in err and "No such file" in err and "Traceback" not in err


def test_an_unwritable_session_log_stops_the_bridge_with_a_message(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    config = tmp_path / "treadguard.toml"
    config.write_text(f'[bridge]\nsession_db = "{tmp_path / "a-file" / "s.sqlite"}"\ndashboard_port = 0\n')
    assert main(["bridge", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "the session log" in err and "the bridge was not started" in err
