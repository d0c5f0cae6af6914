"""The trip folder shared by design between two real users: the daemon's user writes a record
under the service's UMask=0077, the bridge's user (in the daemon's group) reads it, and the
dashboard's record page and plot work; a third user reads nothing."""

from __future__ import annotations

import grp
import html
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from monitor.bridge.trip_words import TripWords
from monitor.service.trips.trip_record import FILE_MODE, FOLDER_MODE

SHARED_GROUP = "tgtest-share"  # stands for the group treadguard
DAEMON_USER = "tgtest-daemon"  # treadguard
BRIDGE_USER = "tgtest-bridge"  # treadguard-bridge
OTHER_USER = "tgtest-other"  # anyone else on the Pi
ROOT = Path(__file__).resolve().parents[1]
MAIN = "import sys; from monitor.cli.main import main; sys.exit(main(sys.argv[1:]))"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None,
    reason="needs root and useradd: the test makes two unprivileged users, as the installer does")


def _ensure_users() -> None:
    """System users like those of systemd/install.py: the daemon's, and the bridge's in its group."""
    def run(*command: str) -> None:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    try:
        grp.getgrnam(SHARED_GROUP)
    except KeyError:
        run("groupadd", "--system", SHARED_GROUP)
    for user, args in ((DAEMON_USER, ["-g", SHARED_GROUP]), (BRIDGE_USER, ["-U", "-G", SHARED_GROUP]),
                       (OTHER_USER, ["-U"])):
        try:
            pwd.getpwnam(user)
        except KeyError:
            run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", *args, user)


def _interpreter() -> tuple[str, str] | None:
    """A Python of this version the other users may run, and the PYTHONPATH that finds treadguard and its
    libraries (a venv's interpreter may live in root's home, which they cannot enter)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    path = os.pathsep.join([str(ROOT), *(p for p in sys.path if p.endswith("site-packages"))])
    for python in (os.path.realpath(sys.executable), f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        try:
            probe = subprocess.run([python, "-c", "import numpy, monitor"], user=pwd.getpwnam(OTHER_USER).pw_uid,
                                   env={"PYTHONPATH": path}, capture_output=True, cwd="/")
        except OSError:  # not there, or not theirs to run
            continue
        if probe.returncode == 0:
            return python, path
    return None


def _words(run: subprocess.CompletedProcess) -> str:
    """What a command said, its lines joined: the bench wraps its prose at 80 columns."""
    return " ".join((run.stdout + run.stderr).split())


def treadguard(*args: str) -> list[str]:
    return [PYTHON[0], "-c", MAIN, *args]


def as_user(user: str, command: list[str], home: Path, **kwargs) -> subprocess.CompletedProcess | subprocess.Popen:
    """A command as `user` with its groups, under the service's UMask=0077, HOME its own folder."""
    entry = pwd.getpwnam(user)
    groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
           "MPLCONFIGDIR": str(home / "mpl"), "LANG": "C.UTF-8", "PYTHONPATH": PYTHON[1]}
    options = dict(user=entry.pw_uid, group=entry.pw_gid, extra_groups=groups, umask=0o077, env=env, text=True,
                   cwd=str(home))
    popen = kwargs.pop("popen", False)
    if popen:
        return subprocess.Popen(command, **options, **kwargs)
    return subprocess.run(command, **options, capture_output=True, timeout=120, **kwargs)


PYTHON: tuple[str, str] = ("", "")


@pytest.fixture
def place():
    global PYTHON
    _ensure_users()
    found = _interpreter()
    if found is None:
        pytest.skip("no Python of this version that other users may run (the venv's lives in a private home)")
    PYTHON = found
    base = Path(tempfile.mkdtemp(prefix="treadguard-sharing-", dir="/tmp"))
    base.chmod(0o755)
    share = grp.getgrnam(SHARED_GROUP).gr_gid
    homes = {}
    for user, mode, group in ((DAEMON_USER, 0o750, share), (BRIDGE_USER, 0o750, None), (OTHER_USER, 0o750, None)):
        home = base / user
        home.mkdir()
        entry = pwd.getpwnam(user)
        os.chown(home, entry.pw_uid, entry.pw_gid if group is None else group)
        home.chmod(mode)  # the daemon's is like /var/lib/treadguard: StateDirectoryMode=0750, its group
        homes[user] = home
    for home in (homes[BRIDGE_USER], homes[OTHER_USER]):  # traversable by the others, like /var/lib
        home.chmod(0o755)
    homes[DAEMON_USER].chmod(0o750)
    yield homes
    shutil.rmtree(base, ignore_errors=True)


def test_the_daemons_user_writes_a_record_the_bridges_user_reads_and_plots(place):
    trips = place[DAEMON_USER] / "trips"
    daemon = as_user(DAEMON_USER, treadguard("run", "--bench", "--speed", "20", "--trip-dir", str(trips)),
                     place[DAEMON_USER])
    assert daemon.returncode == 0, daemon.stderr
    [record] = sorted(trips.glob("trip-*.json"))
    folder = trips.stat()
    assert stat.S_IMODE(folder.st_mode) == FOLDER_MODE and folder.st_uid == pwd.getpwnam(DAEMON_USER).pw_uid
    assert folder.st_gid == grp.getgrnam(SHARED_GROUP).gr_gid
    for made in trips.iterdir():  # under UMask=0077 too: readable by the group, by nobody else
        assert stat.S_IMODE(made.stat().st_mode) == FILE_MODE and made.stat().st_gid == folder.st_gid

    bridge_home = place[BRIDGE_USER]
    config = bridge_home / "bridge.toml"
    config.write_text(f'[status]\nsocket_path = "{bridge_home / "no-daemon.sock"}"\n'
                      f'[record]\ntrip_dir = "{trips}"\n'
                      f'[bridge]\ndashboard_port = 0\nsession_db = "{bridge_home / "db" / "sessions.sqlite"}"\n')
    config.chmod(0o644)
    bridge = as_user(BRIDGE_USER, treadguard("bridge", "--config", str(config)), bridge_home, popen=True,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        started = bridge.stdout.readline()
        url = re.search(r"dashboard on (http://\S+/)", started).group(1)
        stamp = record.name[len("trip-"):-len(".json")]
        home = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "not readable by the bridge" not in home and f"/record/{stamp}" in home
        page = urllib.request.urlopen(f"{url}record/{stamp}", timeout=10).read().decode()
        assert f'src="/plot/{stamp}.svg"' in page and "not readable" not in page
        words = TripWords().of_record(json.loads(record.read_text()))  # whatever tripped it, in plain words
        assert html.escape(words[0][1:], quote=True) in page
        plot = urllib.request.urlopen(f"{url}plot/{stamp}.svg", timeout=120)
        assert plot.headers["Content-Type"] == "image/svg+xml" and b"<svg" in plot.read()
    finally:
        bridge.terminate()
        bridge.communicate(timeout=20)

    other = as_user(OTHER_USER, ["cat", str(record)], place[OTHER_USER])
    assert other.returncode != 0 and "Permission denied" in other.stderr


def test_the_folder_checks_still_hold_for_a_shared_folder(place):
    """Owned by treadguard's user, not writable by its group or others, not a symbolic link."""
    trips = place[DAEMON_USER] / "trips"
    trips.mkdir()
    share = grp.getgrnam(SHARED_GROUP).gr_gid
    os.chown(trips, pwd.getpwnam(DAEMON_USER).pw_uid, share)
    for mode, words in ((0o2770, "writable by others"), (0o2757, "writable by others")):
        trips.chmod(mode)
        run = as_user(DAEMON_USER, treadguard("run", "--bench", "--speed", "20", "--trip-dir", str(trips)),
                      place[DAEMON_USER])
        assert words in _words(run) and not list(trips.glob("trip-*"))
    os.chown(trips, pwd.getpwnam(BRIDGE_USER).pw_uid, share)
    trips.chmod(0o2750)
    run = as_user(DAEMON_USER, treadguard("run", "--bench", "--speed", "20", "--trip-dir", str(trips)),
                  place[DAEMON_USER])
    assert "not to treadguard's uid" in _words(run)
