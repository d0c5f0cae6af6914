"""The service unit: systemd-analyze verify and security (systemd/check-unit.sh), and the
settings that other parts of treadguard depend on."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.config.schema import Config

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "treadguard.service"
CHECK = REPO / "systemd" / "check-unit.sh"


def unit_settings(path: Path = UNIT) -> dict[str, list[str]]:
    """Key -> every value it is given in the [Service] and [Unit] sections (keys may repeat)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def one(settings: dict[str, list[str]], key: str) -> str:
    values = settings.get(key, [])
    assert len(values) == 1, f"{key}= is set {len(values)} times"
    return values[0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed: the unit cannot be verified on this machine")
def test_systemd_analyze_verifies_the_unit_and_rates_it_2_or_lower():
    result = subprocess.run(["bash", str(CHECK)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout
    exposure = float(re.search(r"exposure level ([0-9.]+)", result.stdout).group(1))
    assert exposure <= 2.0
    print(f"systemd-analyze security exposure: {exposure}")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed: the unit cannot be verified on this machine")
def test_check_unit_fails_on_a_unit_systemd_only_warns_about(tmp_path):
    broken = tmp_path / "treadguard.service"
    broken.write_text(UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=very"))
    result = subprocess.run(["bash", str(CHECK), str(broken)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert result.returncode != 0
    assert "ProtectSystem" in result.stdout or "protect system" in result.stdout


def test_the_unit_runs_the_daemon_the_way_the_docs_say():
    settings = unit_settings()
    assert one(settings, "ExecStart") == \
        "/opt/treadguard/venv/bin/treadguard run --config /etc/treadguard/config.toml"
    assert one(settings, "Type") == "notify"
    assert one(settings, "NotifyAccess") == "main"
    assert one(settings, "Restart") == "on-failure"
    assert one(settings, "User") == "treadguard"
    watchdog = one(settings, "WatchdogSec")
    assert watchdog.endswith("s") and 0 < float(watchdog[:-1]) <= 5
    assert one(settings, "CPUSchedulingPolicy") == "fifo"
    assert 1 <= int(one(settings, "CPUSchedulingPriority")) < 50  # below the kernel's IRQ threads


def test_the_daemon_can_write_where_it_must():
    settings = unit_settings()
    state = "/var/lib/" + one(settings, "StateDirectory")
    assert one(settings, "WorkingDirectory") == state  # lgpio makes its notification pipes in the cwd
    assert Path(Config().record.trip_dir).is_relative_to(state)  # the default trip records are writable
    assert one(settings, "ProtectSystem") == "strict"


def test_hardening_that_would_break_the_hardware_stays_off():
    settings = unit_settings()
    assert settings.get("PrivateDevices", ["no"]) == ["no"]  # would hide /dev/gpiochip* and /dev/i2c-*
    assert one(settings, "ProcSubset") == "all"  # gpiozero reads /proc/device-tree or /proc/cpuinfo
    assert set(settings["DeviceAllow"]) == {"char-gpiochip rw", "char-i2c rw"}
    assert "AF_UNIX" in one(settings, "RestrictAddressFamilies").split()  # the notify socket
    assert one(settings, "SystemCallErrorNumber") == "EPERM"  # numpy's OpenBLAS calls mbind() (@resources)
    assert one(settings, "MemoryDenyWriteExecute") == "yes"
