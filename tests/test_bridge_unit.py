"""The home bridge's unit: hardened (systemd-analyze security <= 2.5), its own user, the
network but no devices, and the safety daemon's unit still off every network."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.config.schema import Config
from tests.test_systemd import CHECK, UNIT, one, unit_settings

BRIDGE_UNIT = Path(UNIT).with_name("treadguard-bridge.service")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed: the unit cannot be verified on this machine")
def test_systemd_analyze_verifies_the_bridge_unit_and_rates_it_2_5_or_lower():
    result = subprocess.run(["bash", str(CHECK), str(BRIDGE_UNIT)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout
    exposure = float(re.search(r"treadguard-bridge.service exposure level ([0-9.]+)", result.stdout).group(1))
    assert exposure <= 2.5
    print(f"systemd-analyze security exposure of the bridge: {exposure}")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed: the unit cannot be verified on this machine")
def test_check_unit_refuses_a_daemon_unit_that_was_given_the_network(tmp_path):
    networked = tmp_path / "treadguard.service"
    networked.write_text(UNIT.read_text().replace("PrivateNetwork=yes\n", ""))
    result = subprocess.run(["bash", str(CHECK), str(networked)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert result.returncode != 0 and "must keep PrivateNetwork=yes" in result.stdout


def test_the_bridge_runs_as_its_own_user_with_the_network_and_no_devices():
    bridge = unit_settings(BRIDGE_UNIT)
    assert one(bridge, "ExecStart") == \
        "/opt/treadguard/venv/bin/treadguard bridge --config /etc/treadguard/config.toml"
    assert one(bridge, "User") == "treadguard-bridge" != one(unit_settings(), "User")
    assert one(bridge, "SupplementaryGroups").split() == ["treadguard"]  # the status socket's; not gpio, i2c
    assert one(bridge, "DevicePolicy") == "closed" and one(bridge, "PrivateDevices") == "yes"
    assert "DeviceAllow" not in bridge
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(one(bridge, "RestrictAddressFamilies").split())
    assert bridge.get("PrivateNetwork", ["no"]) == ["no"]
    assert one(bridge, "NoNewPrivileges") == "yes" and one(bridge, "CapabilityBoundingSet") == ""
    state = "/var/lib/" + one(bridge, "StateDirectory")
    assert Path(Config().bridge.session_db).is_relative_to(state)  # the session log is writable
    assert one(bridge, "RestrictRealtime") == "yes"  # never competes with the daemon's SCHED_FIFO loop


def test_the_daemon_unit_stays_off_every_network():
    daemon = unit_settings()
    assert one(daemon, "PrivateNetwork") == "yes" and one(daemon, "IPAddressDeny") == "any"
    assert one(daemon, "RestrictAddressFamilies").split() == ["AF_UNIX"]
