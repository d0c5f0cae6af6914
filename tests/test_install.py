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
        can_run = subprocess.run(command[:-1] + ["-c", "pass"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        if can_run.returncode != 0:  # e.g. a Python in root's home, whose libpython nobody may read
            pytest.skip(f"this Python cannot run as another user here: {can_run.stdout.strip()[:200]}")
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
    attempt = subprocess.run([sys.executable, str(INSTALL), "--root", str(root)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if attempt.returncode != 0:  # no lgpio for this Python and machine (3.13: PyPI has no wheel)
        assert attempt.returncode == 1 and "no GPIO backend" in attempt.stderr, attempt.stdout + attempt.stderr
        assert "Traceback" not in attempt.stderr
        assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
        pytest.skip(f"the installer refused, as it must without lgpio: {attempt.stderr.strip()[:200]}")
    assert "venv       /opt/treadguard/venv (created" in attempt.stdout
    lgpio = subprocess.run([str(root / "opt/treadguard/venv/bin/python"), "-c", "import lgpio; lgpio.gpiochip_open"])
    assert lgpio.returncode == 0, "the install succeeded without a usable lgpio in the venv"
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


# -- the GPIO backend: installed, or a refusal (apt and pip are stood in for; no network) --------
class FakeSystem:
    """Answers the installer's commands as a machine would: apt, pip and the venv's Python."""

    def __init__(self, *, apt_candidate: str | None = None, pypi_wheel: str | None = None,
                 lgpio: str = "missing", apt_lgpio_imports: bool = True) -> None:
        self.apt_candidate = apt_candidate
        self.pypi_wheel = pypi_wheel
        self.lgpio = lgpio  # in the venv: "missing", "real" or "placeholder"
        self.apt_lgpio_imports = apt_lgpio_imports
        self.system_lgpio = False
        self.commands: list[list[str]] = []
        self.built_from: set[str] | None = None

    def __call__(self, command: list[str]) -> subprocess.CompletedProcess:
        self.commands.append(command)
        words = " ".join(command)
        answer = 0, ""
        if command[-2:] == ["-c", install.LGPIO_PROBE]:
            if self.lgpio == "placeholder":
                answer = install.LGPIO_PROBE_PLACEHOLDER, ""
            elif self.lgpio == "real" or self.system_lgpio:
                answer = 0, ""
            else:
                answer = 1, "ModuleNotFoundError: No module named 'lgpio'"
        elif command[:2] == ["apt-cache", "policy"]:
            candidate = self.apt_candidate or "(none)"
            answer = 0, f"python3-lgpio:\n  Installed: (none)\n  Candidate: {candidate}\n"
        elif command[:2] == ["apt-get", "install"]:
            self.system_lgpio = self.apt_lgpio_imports
        elif "pip download" in words:
            if self.pypi_wheel is not None:
                destination = Path(command[command.index("--dest") + 1])
                (destination / self.pypi_wheel).write_bytes(b"wheel")
                answer = 0, ""
            else:
                answer = 1, "ERROR: No matching distribution found for lgpio"
        elif "pip install" in words and words.endswith(".whl"):
            self.lgpio = "real" if install.wheel_is_real(Path(command[-1]).name) else "placeholder"
        elif "pip uninstall" in words:
            self.lgpio = "missing"
        elif "pip install" in words:
            source = Path(command[-1])
            self.built_from = {str(path.relative_to(source)) for path in source.rglob("*") if not path.is_dir()}
        return subprocess.CompletedProcess(command, answer[0], answer[1])

    def ran(self, *words: str) -> bool:
        return any(all(word in command for word in words) for command in self.commands)


def gpio_step(tmp_path: Path, system: FakeSystem) -> tuple[str, FakeSystem]:
    out = io.StringIO()
    install.Installer(tmp_path / "root", REPO, out=out, execute=system).install_gpio_backend(machine="aarch64")
    return out.getvalue(), system


def test_on_raspberry_pi_os_python3_lgpio_is_installed_with_apt_and_the_installer_says_what(tmp_path):
    said, system = gpio_step(tmp_path, FakeSystem(apt_candidate="0.2.2-1~rpt1"))
    assert system.ran("apt-get", "install", "python3-lgpio")
    assert "apt-get    install python3-lgpio 0.2.2-1~rpt1: the lgpio GPIO library" in said
    assert "installed  lgpio (the GPIO backend) from python3-lgpio" in said
    assert not system.ran("download")


def test_without_apt_s_package_a_real_wheel_for_this_python_is_installed_from_pypi(tmp_path):
    wheel = "lgpio-0.2.2.0-cp311-cp311-manylinux_2_34_aarch64.whl"
    said, system = gpio_step(tmp_path, FakeSystem(pypi_wheel=wheel))
    assert not system.ran("apt-get")
    assert system.ran("--only-binary=:all:", "lgpio")
    assert f"installed  lgpio (the GPIO backend) from PyPI: {wheel}" in said


def test_an_lgpio_already_importable_is_left_alone(tmp_path):
    said, system = gpio_step(tmp_path, FakeSystem(lgpio="real", apt_candidate="0.2.2-1"))
    assert "unchanged  lgpio" in said
    assert system.commands == [[str(tmp_path / "root/opt/treadguard/venv/bin/python"), "-c", install.LGPIO_PROBE]]


def test_pypis_empty_placeholder_in_the_venv_is_removed_so_the_system_lgpio_is_seen(tmp_path):
    said, system = gpio_step(tmp_path, FakeSystem(lgpio="placeholder", apt_candidate="0.2.2-1~rpt1"))
    assert system.ran("pip", "uninstall", "lgpio")
    assert "removed    the empty lgpio placeholder" in said
    assert "installed  lgpio (the GPIO backend) from python3-lgpio" in said


@pytest.mark.parametrize("name, real", [
    ("lgpio-0.2.2.0-cp311-cp311-manylinux_2_34_aarch64.whl", True),
    ("lgpio-0.2.2.0-cp311-cp311-manylinux_2_34_x86_64.whl", True),
    ("lgpio-0.0.0.2-py3-none-any.whl", False),
    ("lgpio-0.2.2.0.tar.gz", False),
])
def test_only_a_wheel_built_for_a_python_and_a_machine_counts_as_lgpio(name, real):
    assert install.wheel_is_real(name) is real


@pytest.mark.parametrize("pypi_wheel, said_of_pypi", [
    ("lgpio-0.0.0.2-py3-none-any.whl", "only an empty placeholder"),
    (None, "no lgpio wheel"),
])
def test_no_lgpio_anywhere_is_a_refusal_naming_lgpio_with_exit_1_and_no_unit_enabled(
        tmp_path, monkeypatch, capsys, pypi_wheel, said_of_pypi):
    system = FakeSystem(pypi_wheel=pypi_wheel)
    monkeypatch.setattr(install.shutil, "which", lambda name: "/usr/bin/" + name)  # systemd-sysusers is faked
    root = tmp_path / "root"
    status = install.main(["--root", str(root)], execute=system)
    err = " ".join(capsys.readouterr().err.split())  # wrapped to the terminal's width
    assert status == 1
    assert "no GPIO backend" in err and "lgpio" in err and said_of_pypi in err
    assert "Raspberry Pi OS" in err and "run install.py again" in err and "Traceback" not in err
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
    assert not (root / "etc/systemd/system/treadguard.service").exists()
    assert not system.ran("enable")


def test_a_refusal_disables_the_unit_an_earlier_install_enabled(tmp_path, monkeypatch):
    root = tmp_path / "root"
    link = root / "etc/systemd/system/multi-user.target.wants/treadguard.service"
    link.parent.mkdir(parents=True)
    link.symlink_to("/etc/systemd/system/treadguard.service")
    monkeypatch.setattr(install.shutil, "which", lambda name: None)  # no systemctl: the link is the state
    out = io.StringIO()
    with pytest.raises(install.InstallError, match="no GPIO backend"):
        install.Installer(root, REPO, out=out, execute=FakeSystem()).install_gpio_backend()
    assert not link.is_symlink()
    assert "disabled   treadguard.service" in out.getvalue()


# -- only the project's own files are built ---------------------------------------------------------
def checkout_copy(tmp_path: Path) -> Path:
    """A checkout as a person's may be: the package, plus what GPIO programs, venvs and builds leave."""
    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    for name in ("monitor", "drivers", "systemd"):
        shutil.copytree(REPO / name, checkout / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, checkout / name)
    return checkout


def test_a_named_pipe_and_other_leftovers_in_the_checkout_change_nothing_in_the_build(tmp_path):
    clean = checkout_copy(tmp_path)
    expected = tmp_path / "expected"
    install.copy_build_inputs(clean, expected)
    os.mkfifo(clean / ".lgd-nfy0")  # lgpio's notification pipe, left by `treadguard check` in the checkout
    os.mkfifo(clean / "monitor" / ".lgd-nfy1")
    os.mkfifo(clean / "monitor" / "fifo-without-the-usual-name")
    import socket
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(clean / "drivers" / "status.sock"))
        (clean / "monitor" / ".venv" / "bin").mkdir(parents=True)
        (clean / "monitor" / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (clean / "monitor" / "__pycache__").mkdir(exist_ok=True)
        (clean / "monitor" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
        (clean / "build" / "lib").mkdir(parents=True)
        (clean / "drivers" / "loop").symlink_to("..")  # a symlink loop
        (clean / "monitor" / "dangling.py").symlink_to("/nonexistent")
        built = tmp_path / "built"
        install.copy_build_inputs(clean, built)
    assert install.tree_digest(built) == install.tree_digest(expected)
    assert "monitor/config/example-config.toml" in install.tree_digest(built)

    system = FakeSystem(lgpio="real")
    out = io.StringIO()
    install.Installer(tmp_path / "root", clean, out=out, execute=system).create_venv()
    assert system.built_from == {path for path, kind in install.tree_digest(expected).items() if kind != "dir"}
    assert "installed  treadguard into /opt/treadguard/venv" in out.getvalue()
