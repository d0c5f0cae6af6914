"""systemd/install.py against scratch roots: idempotent, keeps an edited config, uninstalls
cleanly, and (one test, online) builds the real venv whose treadguard checks the config."""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "systemd" / "install.py"

needs_sysusers = pytest.mark.skipif(shutil.which("systemd-sysusers") is None,
                                    reason="systemd-sysusers is not installed (the installer needs systemd)")


def load_installer():
    spec = importlib.util.spec_from_file_location("treadguard_install", INSTALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


install = load_installer()


def run_install(root: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(INSTALL), "--root", str(root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


ACCOUNT_FILES = {"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/.pwd.lock",
                 "etc/passwd-", "etc/group-", "etc/shadow-", "etc/gshadow-"}


@needs_sysusers
def test_installing_twice_leaves_the_same_files(tmp_path):
    root = tmp_path / "root"
    first = run_install(root, "--no-venv")
    after_first = install.tree_digest(root)
    second = run_install(root, "--no-venv")
    assert install.tree_digest(root) == after_first
    assert "wrote" in first.stdout and "\n  wrote" not in second.stdout
    # what the first run made
    for path in ("etc/systemd/system/treadguard.service", "etc/treadguard/config.toml",
                 "etc/sysusers.d/treadguard.conf", "etc/systemd/system.conf.d/treadguard-watchdog.conf",
                 "etc/modules-load.d/treadguard.conf"):
        assert after_first[path] not in ("dir",) and not after_first[path].startswith("->"), path
    assert after_first["etc/systemd/system/multi-user.target.wants/treadguard.service"] == \
        "-> /etc/systemd/system/treadguard.service"
    assert (root / "etc/systemd/system/treadguard.service").read_text() == \
        (REPO / "systemd/treadguard.service").read_text()
    assert (root / "etc/treadguard/config.toml").read_text() == (REPO / "monitor/config/example-config.toml").read_text()
    passwd = (root / "etc/passwd").read_text()
    assert "treadguard:" in passwd and ":/var/lib/treadguard:" in passwd
    groups = {line.split(":")[0]: line.split(":")[3] for line in (root / "etc/group").read_text().splitlines()}
    assert "treadguard" in groups["gpio"].split(",") and "treadguard" in groups["i2c"].split(",")
    assert "RuntimeWatchdogSec=" in (root / "etc/systemd/system.conf.d/treadguard-watchdog.conf").read_text()
    # what it tells the person
    for line in ("dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000", "dtparam=watchdog=on",
                 "dtparam=strict_gpiod=on", "systemctl start treadguard"):
        assert line in first.stdout


@needs_sysusers
def test_an_edited_config_is_kept_byte_for_byte(tmp_path):
    root = tmp_path / "root"
    run_install(root, "--no-venv")
    config = root / "etc/treadguard/config.toml"
    edited = b"# mine\n[loop]\nrate_hz = 200.0\n\xc2\xb5 no trailing newline"
    config.write_bytes(edited)
    result = run_install(root, "--no-venv")
    assert config.read_bytes() == edited
    assert "kept       /etc/treadguard/config.toml" in result.stdout


@needs_sysusers
def test_uninstall_removes_what_install_added_and_keeps_the_config_unless_purged(tmp_path):
    root = tmp_path / "root"
    run_install(root, "--no-venv")
    (root / "opt/treadguard/venv/bin").mkdir(parents=True)  # stands in for the venv
    (root / "var/lib/treadguard/trips").mkdir(parents=True)
    (root / "var/lib/treadguard/trips/trip-1.json").write_text("{}")
    run_install(root, "--uninstall")
    left = {path for path, kind in install.tree_digest(root).items() if kind != "dir"}
    assert left - ACCOUNT_FILES == {"etc/treadguard/config.toml", "var/lib/treadguard/trips/trip-1.json"}
    assert not (root / "opt/treadguard").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
    run_install(root, "--uninstall", "--purge")
    left = {path for path, kind in install.tree_digest(root).items() if kind != "dir"}
    assert left - ACCOUNT_FILES == set()
    assert not (root / "etc/treadguard").exists() and not (root / "var/lib/treadguard").exists()
    run_install(root, "--uninstall", "--purge")  # nothing left to remove: still fine


@needs_sysusers
def test_without_systemctl_the_enable_symlink_is_the_same(tmp_path, monkeypatch):
    with_systemctl = tmp_path / "with"
    run_install(with_systemctl, "--no-venv")
    without = tmp_path / "without"
    real_which = shutil.which
    monkeypatch.setattr(install.shutil, "which", lambda name: None if name == "systemctl" else real_which(name))
    install.Installer(without, REPO, out=io.StringIO()).install(with_venv=False)
    assert install.tree_digest(without) == install.tree_digest(with_systemctl)


def test_clear_messages_for_what_a_person_can_fix(tmp_path, monkeypatch):
    with pytest.raises(install.InstallError, match=r"Python 3\.9\.2 is too old.*3\.11"):
        install.check_python((3, 9, 2))
    install.check_python((3, 11, 2))
    with pytest.raises(install.InstallError, match=r"needs root: run `sudo python3 systemd/install.py`"):
        install.check_privileges(None, euid=1000)
    install.check_privileges(tmp_path, euid=1000)  # a scratch root needs no root
    install.check_privileges(None, euid=0)
    with pytest.raises(install.InstallError, match=r"systemd is not running"):
        install.check_systemd(None, run_dir=tmp_path / "no-such-dir")
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    with pytest.raises(install.InstallError, match=r"systemd-sysusers not found"):
        install.check_systemd(tmp_path)


def test_not_root_on_the_real_system_is_refused_before_anything_happens():
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, str(INSTALL)]
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv is missing: cannot run the installer as another user")
    else:
        command = [sys.executable, str(INSTALL)]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert result.returncode == 1
    assert "needs root" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_purge_without_uninstall_is_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, str(INSTALL), "--root", str(tmp_path), "--purge"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert result.returncode == 2 and "--purge goes with --uninstall" in result.stderr
    assert list(tmp_path.iterdir()) == []


@needs_sysusers
def test_full_install_builds_a_venv_whose_treadguard_checks_the_config(tmp_path):
    """The real path: `python3 -m venv` and `pip install <repo>` (needs the package index)."""
    root = tmp_path / "root"
    system_units = next((d for d in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
                         if (d / "sysinit.target").is_file()), None)
    if system_units is not None:  # so that `systemd-analyze verify --root` can resolve the unit's dependencies
        shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    result = run_install(root)
    assert "venv       /opt/treadguard/venv (created" in result.stdout
    treadguard = root / "opt/treadguard/venv/bin/treadguard"
    config = root / "etc/treadguard/config.toml"
    check = subprocess.run([str(treadguard), "config", "--check", str(config)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK" in check.stdout
    # the unit as installed, against the venv as installed: ExecStart must exist there
    if system_units is not None and shutil.which("systemd-analyze"):
        verify = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", "treadguard.service"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert verify.returncode == 0 and verify.stdout == "", verify.stdout
    # a second run keeps the venv and upgrades treadguard in place
    again = run_install(root)
    assert "venv       /opt/treadguard/venv (kept" in again.stdout
    assert subprocess.run([str(treadguard), "config", "--check", str(config)],
                          stdout=subprocess.DEVNULL).returncode == 0


def test_the_start_advice_names_the_arm_button_and_sigusr1_not_a_reset_button():
    from systemd.install import start_advice

    advice = " ".join(start_advice().split())
    assert "the arm button at the console (hold 1 s)" in advice
    assert "systemctl kill -s USR1 treadguard` (SIGUSR1)" in advice
    assert "reset button" not in advice


@needs_sysusers
def test_with_bridge_adds_its_own_user_in_the_status_group_and_its_unit_and_uninstall_removes_them(tmp_path):
    root = tmp_path / "root"
    first = run_install(root, "--no-venv", "--with-bridge")
    after_first = install.tree_digest(root)
    assert "\n  wrote" not in run_install(root, "--no-venv", "--with-bridge").stdout  # idempotent
    assert install.tree_digest(root) == after_first
    assert (root / "etc/systemd/system/treadguard-bridge.service").read_text() == \
        (REPO / "systemd/treadguard-bridge.service").read_text()
    assert after_first["etc/systemd/system/multi-user.target.wants/treadguard-bridge.service"] == \
        "-> /etc/systemd/system/treadguard-bridge.service"
    passwd = {line.split(":")[0]: line for line in (root / "etc/passwd").read_text().splitlines()}
    assert ":/var/lib/treadguard-bridge:" in passwd["treadguard-bridge"]
    groups = {line.split(":")[0]: line.split(":")[3].split(",") for line in (root / "etc/group").read_text().splitlines()}
    assert "treadguard-bridge" in groups["treadguard"]  # the status socket's group
    assert "treadguard-bridge" not in groups["gpio"] + groups["i2c"]  # no way to the hardware
    assert "systemctl start treadguard-bridge" in first.stdout
    run_install(root, "--uninstall", "--purge")
    left = {path for path, kind in install.tree_digest(root).items() if kind != "dir"}
    assert left - ACCOUNT_FILES == set()


@needs_sysusers
def test_without_with_bridge_nothing_of_the_bridge_is_installed(tmp_path):
    root = tmp_path / "root"
    run_install(root, "--no-venv")
    assert not (root / "etc/systemd/system/treadguard-bridge.service").exists()
    assert "treadguard-bridge" not in (root / "etc/passwd").read_text()
