#!/usr/bin/env python3
"""Install treadguard as a hardened systemd service on Raspberry Pi OS (Bookworm and later).

    sudo python3 systemd/install.py              install, or update an installation
    sudo python3 systemd/install.py --uninstall  remove it; the config and trip records stay
    sudo python3 systemd/install.py --uninstall --purge   remove those too
    sudo python3 systemd/install.py --with-bridge  also the home bridge (dashboard, MQTT)

What it does, each step idempotent (a second run changes nothing that is already right):
  - the system user and group `treadguard`, in the gpio and i2c groups
    (/etc/sysusers.d/treadguard.conf, applied by systemd-sysusers);
  - the virtual environment /opt/treadguard/venv with treadguard from this checkout
    (`python3 -m venv --system-site-packages`, then `pip install` of a copy of only the
    files the package is built from); an existing one is upgraded in place, or recreated
    when its Python is not this one;
  - the GPIO backend, lgpio, importable in that venv: Raspberry Pi OS's python3-lgpio
    (apt-get install, when apt offers it), else a real lgpio wheel for this Python and
    machine from PyPI; when neither exists it stops, exit 1, with no unit enabled;
  - /etc/treadguard/config.toml from the documented example, ONLY if there is none:
    an existing config is never touched;
  - the unit /etc/systemd/system/treadguard.service, enabled (started at boot);
  - /etc/systemd/system.conf.d/treadguard-watchdog.conf: systemd feeds the Pi's hardware
    watchdog, so a frozen Pi resets (and a reset Pi's pins are inputs: the relay drops);
  - /etc/modules-load.d/treadguard.conf: i2c-dev, so /dev/i2c-1 exists before the service;
  - with --with-bridge: the user `treadguard-bridge` in the group `treadguard` (the status socket's)
    (/etc/sysusers.d/treadguard-bridge.conf) and the unit treadguard-bridge.service,
    enabled: the read-only dashboard and MQTT bridge (README: "At home");
then it prints the /boot/firmware/config.txt lines to add, and how to start the service.
It never starts the service and never edits config.txt: a person does that, knowingly.

--root DIR installs into a scratch root instead of / (tests, staging). The venv made
there works only at that path. --no-venv skips the venv (offline tests only).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Callable

MIN_PYTHON = (3, 11)
NAME = "treadguard"
UNIT_NAME = "treadguard.service"
PREFIX = "opt/treadguard"
VENV = f"{PREFIX}/venv"
CONFIG_DIR = "etc/treadguard"
CONFIG = f"{CONFIG_DIR}/config.toml"
STATE_DIR = "var/lib/treadguard"
UNIT = f"etc/systemd/system/{UNIT_NAME}"
WANTS_LINK = f"etc/systemd/system/multi-user.target.wants/{UNIT_NAME}"
SYSUSERS = "etc/sysusers.d/treadguard.conf"
WATCHDOG_CONF = "etc/systemd/system.conf.d/treadguard-watchdog.conf"
MODULES_CONF = "etc/modules-load.d/treadguard.conf"
BRIDGE_UNIT_NAME = "treadguard-bridge.service"
BRIDGE_UNIT = f"etc/systemd/system/{BRIDGE_UNIT_NAME}"
BRIDGE_WANTS_LINK = f"etc/systemd/system/multi-user.target.wants/{BRIDGE_UNIT_NAME}"
BRIDGE_SYSUSERS = "etc/sysusers.d/treadguard-bridge.conf"
BRIDGE_STATE_DIR = "var/lib/treadguard-bridge"

SYSUSERS_TEXT = """\
# treadguard: the service's own user and group, and the groups that own the devices
# it needs (/dev/gpiochip*: gpio, /dev/i2c-*: i2c on Raspberry Pi OS). Installed by
# treadguard's systemd/install.py; applied with systemd-sysusers.
u treadguard - "treadguard treadmill safety monitor" /var/lib/treadguard
m treadguard gpio
m treadguard i2c
"""

# The Pi's watchdog (bcm2835-wdt) allows at most about 15 s; systemd pings it every half
# period. 5 s: a frozen Pi resets within 5 s without spurious resets under heavy load.
WATCHDOG_TEXT = """\
# treadguard: systemd (PID 1) feeds the SoC's hardware watchdog. If the whole Pi
# freezes, the feeding stops and the watchdog resets the board; after a reset every
# GPIO is an input, so the relay's pull-down opens the treadmill's safety-key loop.
# Needs dtparam=watchdog=on in /boot/firmware/config.txt. Installed by treadguard's
# systemd/install.py; takes effect at the next boot (or `systemctl daemon-reexec`).
[Manager]
RuntimeWatchdogSec=5s
RebootWatchdogSec=2min
"""

# The bridge reads the daemon's status socket (/run/treadguard/status.sock, mode 0660,
# group treadguard): it joins that group, and no other.
BRIDGE_SYSUSERS_TEXT = """\
# treadguard's home bridge: its own unprivileged user, in the daemon's group so it may
# read the status socket, and in nothing else (not gpio, not i2c). Installed by
# treadguard's systemd/install.py --with-bridge; applied with systemd-sysusers.
u treadguard-bridge - "treadguard home bridge (read-only)" /var/lib/treadguard-bridge
m treadguard-bridge treadguard
"""

MODULES_TEXT = """\
# treadguard: the I2C character devices (/dev/i2c-N) for the IMU. Loaded at boot,
# before treadguard.service, whose device ACL covers only drivers loaded at its start.
i2c-dev
"""

CONFIG_TXT_ADVICE = """\
Add these lines to /boot/firmware/config.txt (under [all]), then reboot:

    dtparam=i2c_arm=on
        The I2C bus on header pins 3 (SDA) and 5 (SCL), /dev/i2c-1: the IMU's tether.
    dtparam=i2c_arm_baudrate=400000
        400 kHz fast mode: each tick's IMU read (a few dozen bytes) takes a quarter of
        the time it takes at the default 100 kHz, so the loop spends less of its 10 ms in
        I2C. Caveat: I2C is meant for short distances. A long tether cable adds
        capacitance (roughly 50-100 pF per metre; fast mode allows 400 pF in all), edges
        get slow and reads fail, which trips the monitor (imu_read_failed). Past about
        1 m of cable, use dtparam=i2c_arm_baudrate=100000, or an I2C bus extender.
    dtparam=watchdog=on
        The SoC's hardware watchdog, fed by systemd (installed:
        /etc/systemd/system.conf.d/treadguard-watchdog.conf, RuntimeWatchdogSec=5s).
        A frozen Pi resets; a reset Pi's pins are inputs, the pull-down opens the relay.
    dtparam=strict_gpiod=on
        When a program that drives a GPIO line ends (a crash, a watchdog kill, a stop),
        the kernel returns the pin to an input, so the pull-down opens the relay.
        Raspberry Pi kernels otherwise keep a released output at its last level, which
        could hold the relay closed after the daemon died. Needs a kernel from mid-2024
        or later (`sudo apt full-upgrade`).
"""


# What `pip install` builds treadguard from (pyproject.toml's packages and readme): only these
# are copied, and only their regular files, so nothing else in a checkout (a venv, caches,
# build folders, lgpio's notification pipes .lgd-nfyN, sockets) can reach or break the build.
BUILD_INPUTS = ("pyproject.toml", "README.md", "monitor", "drivers")
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".hypothesis", "build", "dist"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".so", ".egg-info")

# lgpio: gpiozero's backend for the Pi's GPIO character device. Raspberry Pi OS packages it as
# python3-lgpio; PyPI has real wheels only for some Pythons and machines, and an empty
# placeholder (lgpio 0.0.0.2, py3-none-any) that pip picks for the others.
LGPIO_APT_PACKAGE = "python3-lgpio"
LGPIO_PROBE = "import lgpio, sys; sys.exit(0 if hasattr(lgpio, 'gpiochip_open') else 3)"
LGPIO_PROBE_PLACEHOLDER = 3


class InstallError(Exception):
    """A problem a person can fix; the message says how."""


Execute = Callable[[list[str]], subprocess.CompletedProcess]


def execute(command: list[str]) -> subprocess.CompletedProcess:
    """Run a command, its output and errors together, never raising for its exit status."""
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=environment)
    except FileNotFoundError as err:
        return subprocess.CompletedProcess(command, 127, f"{command[0]}: not found ({err.strerror})")


# -- checks -------------------------------------------------------------------------------
def check_python(version: tuple[int, ...] = tuple(sys.version_info)) -> None:
    if tuple(version[:2]) < MIN_PYTHON:
        have = ".".join(str(part) for part in version[:3])
        raise InstallError(
            f"Python {have} is too old: treadguard needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer "
            f"(Raspberry Pi OS Bookworm has 3.11). Run this with a newer python3, or upgrade the OS.")


def check_privileges(root: Path | None, euid: int | None = None) -> None:
    euid = os.geteuid() if euid is None else euid
    if root is None and euid != 0:
        raise InstallError(
            "installing into the real system needs root: run `sudo python3 systemd/install.py` "
            "(or pass --root DIR to install into a scratch directory)")


def check_systemd(root: Path | None, run_dir: Path = Path("/run/systemd/system")) -> None:
    if shutil.which("systemd-sysusers") is None:
        raise InstallError(
            "systemd-sysusers not found: treadguard runs as a systemd service and needs systemd "
            "(Raspberry Pi OS has it; on another system install systemd first)")
    if root is None and not run_dir.is_dir():
        raise InstallError(
            f"systemd is not running on this machine ({run_dir} is missing): treadguard runs as a "
            f"systemd service. Install on a system booted with systemd, e.g. Raspberry Pi OS")


# -- small file helpers -----------------------------------------------------------------
def copy_build_inputs(source: Path, destination: Path) -> int:
    """Copy what the package is built from (BUILD_INPUTS): regular files only; return how many."""
    copied = 0
    for name in BUILD_INPUTS:
        top = source / name
        if not top.exists():
            continue
        if top.is_file():
            _copy_regular(top, destination / name)
            copied += 1
            continue
        for folder, subfolders, files in os.walk(top):  # os.walk never follows symlinked folders
            here = Path(folder)
            subfolders[:] = sorted(d for d in subfolders if _wanted(d) and not (here / d / "pyvenv.cfg").exists()
                                   and not (here / d).is_symlink())
            for file_name in sorted(files):
                if _wanted(file_name) and _copy_regular(here / file_name, destination / (here / file_name).relative_to(source)):
                    copied += 1
    return copied


def _wanted(name: str) -> bool:
    return name not in SKIPPED_NAMES and not name.endswith(SKIPPED_SUFFIXES) and not name.startswith(".lgd-nfy")


def _copy_regular(path: Path, target: Path) -> bool:
    """Copy path if it is a regular file (not a pipe, socket, device or symlink)."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return True


def wheel_is_real(file_name: str) -> bool:
    """A wheel built for a Python and a machine: lgpio's `py3-none-any` wheel is an empty placeholder."""
    if not file_name.endswith(".whl"):
        return False
    tags = file_name[:-len(".whl")].split("-")[-3:]
    return len(tags) == 3 and tags[2] != "any"


def no_lgpio_message(python: str, machine: str, tried: list[str]) -> str:
    return (
        f"no GPIO backend for the service: treadguard drives the relay through gpiozero, which "
        f"needs the lgpio library, and lgpio could not be installed for Python {python} on {machine} "
        f"({'; '.join(tried)}). Nothing was enabled. What to do: install on Raspberry Pi OS (its "
        f"`{LGPIO_APT_PACKAGE}` package is installed by this script), or use a Python that PyPI has "
        f"an lgpio wheel for (3.11 on aarch64 and x86_64 has one), or build lgpio from its source "
        f"(the lg C library, then `pip install lgpio` in /{VENV}, which needs swig and a compiler); "
        f"then run install.py again")


class Installer:
    def __init__(self, root: Path | None, source: Path, *, out=sys.stdout, execute: Execute = execute) -> None:
        self.root = root
        self.source = source
        self.out = out
        self.execute = execute

    def path(self, relative: str) -> Path:
        return (self.root or Path("/")) / relative

    @property
    def is_real_root(self) -> bool:
        return self.root is None

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    def run(self, command: list[str], what: str) -> subprocess.CompletedProcess:
        result = self.execute(command)
        if result.returncode != 0:
            raise InstallError(f"{what} failed ({' '.join(command)}, exit {result.returncode}):\n"
                               f"{result.stdout.strip()}")
        return result

    def write(self, relative: str, text: str, mode: int = 0o644) -> None:
        """Write the file unless it already holds exactly this; say which."""
        path = self.path(relative)
        data = text.encode()
        if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
            if (path.stat().st_mode & 0o7777) != mode:
                path.chmod(mode)
            self.say(f"  unchanged  /{relative}")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        temporary.chmod(mode)
        os.replace(temporary, path)
        self.say(f"  wrote      /{relative}")

    def remove(self, relative: str) -> None:
        path = self.path(relative)
        if path.is_symlink() or path.is_file():
            path.unlink()
            self.say(f"  removed    /{relative}")
        elif path.is_dir():
            shutil.rmtree(path)
            self.say(f"  removed    /{relative}/")

    def prune_empty(self, relative_dir: str) -> None:
        """Remove a directory we may have created, if nothing else is in it."""
        path = self.path(relative_dir)
        try:
            path.rmdir()
        except OSError:  # not empty, or not there: leave it
            pass

    # -- the steps ------------------------------------------------------------------------
    def create_user(self) -> None:
        self.write(SYSUSERS, SYSUSERS_TEXT)
        command = ["systemd-sysusers"]
        if self.root is not None:
            command.append(f"--root={self.root}")
        command.append(Path(SYSUSERS).name)  # a bare name is looked up in <root>/etc/sysusers.d
        self.run(command, "creating the treadguard user")
        self.say("  user       treadguard (groups gpio, i2c)")

    def create_venv(self, extras: str = "") -> None:
        venv = self.path(VENV)
        python = venv / "bin" / "python"
        wanted = f"{sys.version_info[0]}.{sys.version_info[1]}"
        if python.exists():
            probe = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            have = probe.stdout.strip() if probe.returncode == 0 else "broken"
            if have == wanted:
                self.run([sys.executable, "-m", "venv", "--upgrade", "--system-site-packages", str(venv)],
                         "upgrading the virtual environment")
                self.say(f"  venv       /{VENV} (kept, Python {wanted})")
            else:
                self.run([sys.executable, "-m", "venv", "--clear", "--system-site-packages", str(venv)],
                         "recreating the virtual environment")
                self.say(f"  venv       /{VENV} (recreated: it had Python {have}, this is {wanted})")
        else:
            venv.parent.mkdir(parents=True, exist_ok=True)
            self.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                     "creating the virtual environment")
            self.say(f"  venv       /{VENV} (created, Python {wanted})")
        # Build from a copy of only the package's own files: pip builds in the source tree,
        # which would leave root-owned build/ and egg-info files in the person's checkout, and
        # a checkout may hold anything (a venv, caches, lgpio's notification pipes).
        with tempfile.TemporaryDirectory(prefix="treadguard-src-") as scratch:
            copy = Path(scratch) / "treadguard"
            copy_build_inputs(self.source, copy)
            self.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      "--upgrade", f"{copy}{extras}"], "installing treadguard into the virtual environment")
        self.say(f"  installed  treadguard into /{VENV}")

    # -- the GPIO backend ---------------------------------------------------------------------
    def lgpio_state(self, python: Path) -> str:
        """'real', 'placeholder' (PyPI's empty lgpio) or 'missing', as the venv's Python sees it."""
        probe = self.execute([str(python), "-c", LGPIO_PROBE])
        if probe.returncode == 0:
            return "real"
        return "placeholder" if probe.returncode == LGPIO_PROBE_PLACEHOLDER else "missing"

    def install_gpio_backend(self, machine: str | None = None) -> None:
        """lgpio importable in the venv: apt's python3-lgpio, else a real wheel, else refuse."""
        python = self.path(VENV) / "bin" / "python"
        machine = machine or platform.machine()
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        state = self.lgpio_state(python)
        if state == "real":
            self.say("  unchanged  lgpio (the GPIO backend) is importable in the venv")
            return
        if state == "placeholder":  # it would hide a real lgpio from the system's packages
            self.run([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "lgpio"],
                     "removing the empty lgpio placeholder from the venv")
            self.say("  removed    the empty lgpio placeholder (lgpio 0.0.0.2 from PyPI) from the venv")
            if self.lgpio_state(python) == "real":
                self.say("  found      lgpio (the GPIO backend) among the system's packages")
                return
        tried = []
        policy = self.execute(["apt-cache", "policy", LGPIO_APT_PACKAGE])
        candidate = next((line.split(":", 1)[1].strip() for line in policy.stdout.splitlines()
                          if line.strip().startswith("Candidate:")), "(none)")
        if policy.returncode == 0 and candidate != "(none)":
            self.say(f"  apt-get    install {LGPIO_APT_PACKAGE} {candidate}: the lgpio GPIO library for the "
                     f"system's Python 3 (the venv sees system packages), with its C library liblgpio")
            self.run(["apt-get", "install", "--yes", "--no-install-recommends", LGPIO_APT_PACKAGE],
                     f"installing {LGPIO_APT_PACKAGE}")
            if self.lgpio_state(python) == "real":
                self.say(f"  installed  lgpio (the GPIO backend) from {LGPIO_APT_PACKAGE}")
                return
            tried.append(f"apt installed {LGPIO_APT_PACKAGE}, but the venv's Python {version} cannot import it")
        else:
            tried.append(f"apt offers no {LGPIO_APT_PACKAGE} here")
        with tempfile.TemporaryDirectory(prefix="treadguard-lgpio-") as scratch:
            download = self.execute([str(python), "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                                     "--no-deps", "--only-binary=:all:", "--dest", scratch, "lgpio"])
            wheels = sorted(path.name for path in Path(scratch).glob("*.whl"))
            real = [name for name in wheels if wheel_is_real(name)]
            if real:
                self.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                          str(Path(scratch) / real[0])], "installing the lgpio wheel")
                if self.lgpio_state(python) == "real":
                    self.say(f"  installed  lgpio (the GPIO backend) from PyPI: {real[0]}")
                    return
                tried.append(f"PyPI's {real[0]} installed but does not import")
            elif wheels:
                tried.append(f"PyPI has only an empty placeholder for it, {wheels[0]}")
            elif download.returncode != 0:
                last = download.stdout.strip().splitlines()[-1:] or ["no output"]
                tried.append(f"PyPI has no lgpio wheel for it, or cannot be reached ({last[0]})")
            else:
                tried.append("PyPI has no lgpio wheel for it")
        self.disable()
        raise InstallError(no_lgpio_message(version, machine, tried))

    def install_config(self) -> None:
        path = self.path(CONFIG)
        if path.exists() or path.is_symlink():
            self.say(f"  kept       /{CONFIG} (an existing config is never changed)")
            return
        example = self.source / "monitor" / "config" / "example-config.toml"
        if not example.is_file():
            raise InstallError(f"{example} is missing: run install.py from a complete treadguard checkout")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path(CONFIG_DIR).chmod(0o755)
        self.write(CONFIG, example.read_text())
        self.say(f"             (from the example: edit it for your wiring, then "
                 f"`treadguard config --check /{CONFIG}`)")

    def install_unit(self) -> None:
        unit = self.source / "systemd" / UNIT_NAME
        self.write(UNIT, unit.read_text())
        self.write(WATCHDOG_CONF, WATCHDOG_TEXT)
        self.write(MODULES_CONF, MODULES_TEXT)
        if self.is_real_root:
            self.run(["systemctl", "daemon-reload"], "reloading systemd")
        self.enable()

    def enable(self, unit_name: str = UNIT_NAME, unit: str = UNIT, wants_link: str = WANTS_LINK) -> None:
        link = self.path(wants_link)
        target = f"/{unit}"
        if link.is_symlink() and os.readlink(link) == target:
            self.say(f"  unchanged  /{wants_link} (enabled)")
            return
        systemctl = shutil.which("systemctl")
        if systemctl is not None:
            command = [systemctl] + ([f"--root={self.root}"] if self.root is not None else []) + ["enable", unit_name]
            self.run(command, "enabling the service")
        else:  # what `systemctl enable` does for WantedBy=multi-user.target
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(target)
        self.say(f"  enabled    {unit_name} (/{wants_link})")

    def disable(self, unit_name: str = UNIT_NAME, wants_link: str = WANTS_LINK) -> None:
        """Undo an earlier install's `enable`: a unit that cannot start must not start at boot."""
        link = self.path(wants_link)
        if not (link.is_symlink() or link.exists()):
            return
        systemctl = shutil.which("systemctl")
        if systemctl is not None:
            command = [systemctl] + ([f"--root={self.root}"] if self.root is not None else []) + ["disable", unit_name]
            self.run(command, "disabling the service")
        if link.is_symlink() or link.exists():
            link.unlink()
        self.say(f"  disabled   {unit_name} (it cannot start without a GPIO backend)")

    def install_bridge(self) -> None:
        """The home bridge: its user and group, its unit, enabled."""
        self.write(BRIDGE_SYSUSERS, BRIDGE_SYSUSERS_TEXT)
        command = ["systemd-sysusers"] + ([f"--root={self.root}"] if self.root is not None else [])
        self.run(command + [Path(BRIDGE_SYSUSERS).name], "creating the treadguard-bridge user")
        self.say("  user       treadguard-bridge (group treadguard: the status socket)")
        self.write(BRIDGE_UNIT, (self.source / "systemd" / BRIDGE_UNIT_NAME).read_text())
        if self.is_real_root:
            self.run(["systemctl", "daemon-reload"], "reloading systemd")
        self.enable(BRIDGE_UNIT_NAME, BRIDGE_UNIT, BRIDGE_WANTS_LINK)

    def install(self, *, with_venv: bool = True, with_bridge: bool = False) -> None:
        self.say(f"treadguard: installing into {self.root or '/'}")
        self.create_user()
        if with_venv:
            self.create_venv("[bridge]" if with_bridge else "")  # the bridge's MQTT client, paho-mqtt
            self.install_gpio_backend()
        else:
            self.say("  skipped    the virtual environment (--no-venv)")
        self.install_config()
        self.install_unit()
        if with_bridge:
            self.install_bridge()
        self.say("")
        self.say(CONFIG_TXT_ADVICE)
        self.say(start_advice())
        if with_bridge:
            self.say(BRIDGE_ADVICE)

    # -- uninstall ------------------------------------------------------------------------
    def uninstall(self, *, purge: bool = False) -> None:
        self.say(f"treadguard: uninstalling from {self.root or '/'}")
        systemctl = shutil.which("systemctl")
        if self.is_real_root and systemctl is not None:
            for unit_name in (BRIDGE_UNIT_NAME, UNIT_NAME):
                subprocess.run([systemctl, "disable", "--now", unit_name],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                self.say(f"  stopped and disabled {unit_name}")
        self.remove(WANTS_LINK)
        self.remove(BRIDGE_WANTS_LINK)
        self.prune_empty("etc/systemd/system/multi-user.target.wants")
        for relative in (UNIT, WATCHDOG_CONF, MODULES_CONF, SYSUSERS, BRIDGE_UNIT, BRIDGE_SYSUSERS):
            self.remove(relative)
        self.prune_empty("etc/systemd/system.conf.d")
        self.prune_empty("etc/modules-load.d")
        self.prune_empty("etc/sysusers.d")
        self.remove(PREFIX)
        if purge:
            self.remove(CONFIG_DIR)
            self.remove(STATE_DIR)
            self.remove(BRIDGE_STATE_DIR)
        elif self.path(CONFIG).exists():
            self.say(f"  kept       /{CONFIG} (--purge removes it, and the trip records in /{STATE_DIR})")
        if self.is_real_root and systemctl is not None:
            self.run([systemctl, "daemon-reload"], "reloading systemd")
        self.say("  kept       the treadguard user and group (system accounts are not deleted: "
                 "`sudo userdel treadguard` if you want it gone)")
        self.say("  The hardware watchdog stays on only if you keep dtparam=watchdog=on and another "
                 "RuntimeWatchdogSec= setting; the config.txt lines are yours to remove.")


def start_advice() -> str:
    return f"""\
Then:
    sudoedit /{CONFIG}        # drivers, pins, bus: match your wiring
    sudo -u treadguard /{VENV}/bin/treadguard config --check /{CONFIG}
    sudo reboot                                   # for the config.txt lines and the watchdog
    sudo systemctl start treadguard               # it also starts by itself at every boot
    systemctl status treadguard                   # "running; relay released until a reset"
    journalctl -u treadguard -f                   # what it says, trips included
    treadguard status --watch                     # armed or not, the last trip, the sensors (read-only)
The relay stays released (the treadmill will not run) until a person at the
treadmill arms it, while every check passes: with the arm button at the console
(hold 1 s) on GPIO 5, pin 29, with [console] button_enabled = true; or as a local admin with `sudo systemctl kill -s USR1 treadguard`
(SIGUSR1). Nothing re-arms it by itself."""


BRIDGE_ADVICE = f"""\
The home bridge (dashboard, MQTT for Home Assistant) is installed too; it only reads
the daemon's status socket and can never arm the monitor:
    sudoedit /{CONFIG}        # [bridge]: mqtt_host, mqtt_username, mqtt_password_file, ...
    sudo systemctl start treadguard-bridge
    journalctl -u treadguard-bridge -f            # "dashboard on http://127.0.0.1:8957/"
A broker password goes in a file (not the config), e.g. /etc/treadguard/mqtt-password,
owned by root, group treadguard-bridge, mode 0640."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="install.py", description="Install treadguard as a systemd service (run with sudo).")
    parser.add_argument("--root", metavar="DIR", help="install into DIR instead of / (tests, staging)")
    parser.add_argument("--uninstall", action="store_true", help="remove the service, venv and system files")
    parser.add_argument("--purge", action="store_true",
                        help="with --uninstall: also remove /etc/treadguard, /var/lib/treadguard "
                             "and /var/lib/treadguard-bridge")
    parser.add_argument("--with-bridge", action="store_true",
                        help="also install the home bridge: treadguard-bridge.service and its user")
    parser.add_argument("--no-venv", action="store_true",
                        help="skip the virtual environment (offline tests only; the service needs it)")
    parser.add_argument("--source", metavar="DIR", default=str(Path(__file__).resolve().parent.parent),
                        help="the treadguard checkout to install (default: the one holding this script)")
    return parser


def main(argv: list[str] | None = None, execute: Execute = execute) -> int:
    args = _parser().parse_args(argv)
    if args.purge and not args.uninstall:
        print("install.py: --purge goes with --uninstall", file=sys.stderr)
        return 2
    root = Path(args.root).resolve() if args.root else None
    source = Path(args.source).resolve()
    try:
        check_python()
        check_privileges(root)
        check_systemd(root)
        if not (source / "pyproject.toml").is_file() or not (source / "systemd" / UNIT_NAME).is_file():
            raise InstallError(f"{source} is not a treadguard checkout (no pyproject.toml and "
                               f"systemd/{UNIT_NAME}): pass --source DIR")
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        installer = Installer(root, source, execute=execute)
        if args.uninstall:
            installer.uninstall(purge=args.purge)
        else:
            installer.install(with_venv=not args.no_venv, with_bridge=args.with_bridge)
    except InstallError as err:
        width = min(100, shutil.get_terminal_size((80, 24)).columns) - 1
        for line in f"install.py: {err}".splitlines():  # command output keeps its own lines
            print(textwrap.fill(line, width, subsequent_indent="  ", break_long_words=False,
                                break_on_hyphens=False) or line, file=sys.stderr)
        return 1
    return 0


def tree_digest(root: Path) -> dict[str, str]:
    """Every path under root with its content hash or symlink target (for idempotence tests)."""
    digest = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            digest[relative] = "-> " + os.readlink(path)
        elif path.is_dir():
            digest[relative] = "dir"
        else:
            digest[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


if __name__ == "__main__":
    if sys.version_info < MIN_PYTHON:  # before anything newer than the oldest Python could fail
        print(f"install.py: Python {sys.version.split()[0]} is too old: treadguard needs Python "
              f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer (Raspberry Pi OS Bookworm has 3.11)", file=sys.stderr)
        sys.exit(1)
    sys.exit(main())
