"""`treadguard status`: the running daemon's live state, read from its status socket.

Connects read-only (it never sends a byte; the daemon would ignore it anyway),
reads the newline-delimited JSON snapshots and prints the state for a person at
80 columns, or the snapshot itself for scripts (--json). --watch keeps reading:
the view is redrawn in place on a terminal, one line per snapshot otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import textwrap
import time
from typing import Iterator, TextIO

from monitor.cli.common import EXIT_FAILED, EXIT_OK, fail, report_config_error

FIRST_SNAPSHOT_TIMEOUT_S = 3.0  # the daemon sends one at once on connect
WATCH_TIMEOUT_S = 5.0  # in --watch, this long without a snapshot means the daemon is stuck
WIDTH = 80
MAX_LINE_BYTES = 1 << 20


class StatusReadError(Exception):
    """The state could not be read; the message says what to check."""


def candidate_paths(args: argparse.Namespace) -> list[str] | int:
    if args.socket:
        return [args.socket]
    from monitor.config.schema import Config
    from monitor.service.outputs.status_socket import desk_socket_path

    if args.config:
        from monitor.config.load import ConfigError, load_config
        try:
            return [load_config(args.config).status.socket_path]
        except ConfigError as err:
            return report_config_error(err, "no status was read")
    return [Config().status.socket_path, desk_socket_path()]


def connect(paths: list[str]) -> tuple[socket.socket, str]:
    """Connect to the first path that exists; StatusReadError says what to check."""
    existing = [p for p in paths if os.path.exists(p)]
    path = existing[0] if existing else paths[0]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except FileNotFoundError:
        sock.close()
        looked = " or ".join(paths)
        raise StatusReadError(
            f"no status socket at {looked}: the daemon is not running (check `systemctl status treadguard` "
            f"and `journalctl -u treadguard`), or it serves another path (status.socket_path in its config: "
            f"pass --config FILE or --socket PATH)") from None
    except ConnectionRefusedError:
        sock.close()
        raise StatusReadError(
            f"{path} is there but no daemon answers: it stopped without removing it (check "
            f"`systemctl status treadguard` and `journalctl -u treadguard`)") from None
    except PermissionError:
        sock.close()
        raise StatusReadError(
            f"not allowed to open {path}: add your user to the treadguard group "
            f"(`sudo usermod -aG treadguard $USER`, then log in again), or use sudo") from None
    except OSError as err:
        sock.close()
        raise StatusReadError(f"cannot open {path} ({err.strerror or err}); check --socket PATH") from None
    return sock, path


def snapshots(sock: socket.socket, path: str, *, first_timeout_s: float = FIRST_SNAPSHOT_TIMEOUT_S,
              timeout_s: float = WATCH_TIMEOUT_S) -> Iterator[dict]:
    """Each snapshot as it arrives; StatusReadError when the daemon goes quiet, hangs up or talks nonsense."""
    buffer = b""
    sock.settimeout(first_timeout_s)
    seen = 0
    while True:
        while b"\n" not in buffer:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                waited = first_timeout_s if not seen else timeout_s
                raise StatusReadError(
                    f"connected to {path}, but no state came within {waited:g} s: the daemon may be stuck "
                    f"(check `journalctl -u treadguard`)") from None
            except OSError as err:
                raise StatusReadError(f"the connection to {path} broke ({err.strerror or err})") from None
            if not chunk:
                if seen:
                    raise StatusReadError(f"the daemon closed {path}: it stopped, or dropped this "
                                          f"reader for being too slow")
                raise StatusReadError(f"the daemon at {path} hung up before sending its state "
                                      f"(too many readers?)")
            buffer += chunk
            if len(buffer) > MAX_LINE_BYTES:
                raise StatusReadError(f"{path} sent a line longer than 1 MB: not a treadguard status socket")
        line, buffer = buffer.split(b"\n", 1)
        try:
            snap = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise StatusReadError(f"{path} sent something that is not JSON: not a treadguard status socket") \
                from None
        if not isinstance(snap, dict) or "state" not in snap:
            raise StatusReadError(f"{path} sent JSON that is not a treadguard status snapshot")
        seen += 1
        sock.settimeout(timeout_s)
        yield snap


# -- for a person --------------------------------------------------------------------------------
def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s ago"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min ago"


def _value(value: object, unit: str, scale: float = 1.0, digits: int = 2) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "not fitted" if value is None else "?"
    return f"{value * scale:.{digits}f} {unit}"


CUES = {"turned": "after a turn", "turned_unsure": "after a turn (no belt sensor: the gait will say)",
        "gait_forward": "from the gait", "gait_backward": "from the gait"}


def _direction_texts(snap: dict) -> list[str]:
    """The direction's source, the backward ceiling and steadiness, each one line (wrapped)."""
    out = []
    direction = snap.get("direction")
    if isinstance(direction, dict):
        cue = CUES.get(str(direction.get("cue")),
                       f"since the start (session.walking = {snap.get('walking_declared', '?')})")
        out.append(f"direction {snap.get('walking', '?')} {cue}; gait {direction.get('gait', '?')}")
    ceiling = snap.get("ceiling")
    if isinstance(ceiling, dict) and isinstance(ceiling.get("ceiling_mps"), (int, float)):
        text = f"backward ceiling {_value(ceiling['ceiling_mps'], 'm/s')}"
        rise = ceiling.get("rise_in_s")
        if ceiling.get("is_over"):
            text += ": ABOVE IT, slow the belt"
            rise = None
        elif not ceiling.get("applies"):
            text += " (not applied: facing the console)"
        if isinstance(rise, (int, float)):
            text += f"; rises after {rise / 60:.1f} more steady min"
        out.append(text)
    steadiness = snap.get("steadiness")
    if isinstance(steadiness, dict):
        cv, sway = steadiness.get("step_cv"), steadiness.get("sway_radps")
        out.append("steadiness: step time variability "
                   + ("not yet" if not isinstance(cv, (int, float)) else f"{cv * 100:.1f} %")
                   + ", sway " + ("not yet" if not isinstance(sway, (int, float)) else f"{sway:.2f} rad/s") + (" (steady)" if steadiness.get("is_steady") else ""))
    return out


HEADLINES = {
    "armed": "ARMED: the belt may run (relay energized)",
    "unarmed": "NOT ARMED: the belt cannot run until a person arms it at the treadmill",
    "tripped": "TRIPPED: the belt is stopped until a person arms it at the treadmill",
}


def describe(snap: dict, *, now_wall_s: float | None = None, width: int = WIDTH) -> list[str]:
    """The snapshot as lines of at most `width` columns."""
    now_wall_s = time.time() if now_wall_s is None else now_wall_s
    state = str(snap.get("state", "?"))
    lines = [HEADLINES.get(state, f"state: {state}")]
    relay = snap.get("relay_energized")
    if relay is True and state != "armed" or relay is False and state == "armed":
        lines.append(f"  relay: {'energized' if relay else 'released'} (changing this tick)")
    walking = snap.get("walking", "?")
    lines.append(f"  walking {walking}; belt {_value(snap.get('belt_mps'), 'm/s')}; "
                 f"rear margin {_value(snap.get('rear_margin_m'), 'm')}")
    lines += [line for text in _direction_texts(snap)
              for line in textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="    ")]
    imu_age = snap.get("imu_age_s")
    imu = "no data yet" if imu_age is None else _value(imu_age, "ms", 1000.0, 0)
    loop = snap.get("loop") or {}
    rate = loop.get("rate_hz")
    loop_text = (f"{rate:g} Hz, " if isinstance(rate, (int, float)) else "") + \
        f"{loop.get('ticks', '?')} ticks, {loop.get('late_ticks', '?')} late"
    p99, worst = loop.get("tick_wall_p99_s"), loop.get("tick_wall_max_s")
    if isinstance(p99, (int, float)) and isinstance(worst, (int, float)):
        loop_text += f"; a tick takes {p99 * 1000:.2f} ms (p99), {worst * 1000:.2f} ms at most"
    lines.append(f"  IMU age {imu}")
    lines += textwrap.wrap(f"loop {loop_text}", width, initial_indent="  ", subsequent_indent="    ")
    console = snap.get("console")
    if isinstance(console, dict):
        parts = []
        if console.get("light_pattern"):
            parts.append(f"light {console['light_pattern']}")
        if console.get("sound") and console.get("warning_level"):
            parts.append(console["sound"])
        if console.get("button") == "stuck":
            parts.append("ARM BUTTON STUCK")
        if parts:
            lines.append("  console: " + "; ".join(parts))
        if console.get("refused"):
            lines += textwrap.wrap(f"last arm refused: {console['refused']}", width,
                                   initial_indent="  ", subsequent_indent="    ")
    problems = snap.get("problems") or []
    if problems and state != "tripped":
        lines.append("  problems now: " + ", ".join(map(str, problems)))
    trip = snap.get("trip")
    trips = snap.get("trips", 0)
    if isinstance(trip, dict):
        when = trip.get("wall_time")
        ago = f" ({_ago(now_wall_s - when)})" if isinstance(when, (int, float)) else ""
        lines.append(f"  trip{ago}: {trip.get('reason', '?')} ({trip.get('detail', '?')})")
        values = trip.get("values") or {}
        if values:
            shown = ", ".join(f"{k} = {v:.3g}" if isinstance(v, (int, float)) else f"{k} = {v}"
                              for k, v in values.items())
            lines += textwrap.wrap(shown, width, initial_indent="    ", subsequent_indent="    ")
    refused = snap.get("rearm_refused")
    if isinstance(refused, dict):  # not a trip: the trip above still holds, and why it may not re-arm
        when = refused.get("wall_time")
        ago = f" ({_ago(now_wall_s - when)})" if isinstance(when, (int, float)) else ""
        why = refused.get("why") if isinstance(refused.get("why"), list) else []
        details = ", ".join(str(w.get("detail", "?")) for w in why if isinstance(w, dict)) or "a check failed"
        lines += textwrap.wrap(f"re-arm refused{ago}: {details}", width, initial_indent="  ",
                               subsequent_indent="    ")
    lines.append(f"  trips since start: {trips}")
    guard = snap.get("frozen_guard")
    if isinstance(guard, str) and guard:
        lines += textwrap.wrap(f"if the monitor freezes: {guard}", width, initial_indent="  ",
                               subsequent_indent="    ")
    return [line[:width] for line in lines]


def one_line(snap: dict, width: int = WIDTH) -> str:
    """A compact line for a log or a pipe (--watch without a terminal). The state and a trip's
    reason come first and are never cut; the readings follow while they fit."""
    state = str(snap.get("state", "?")).upper()
    head = f"{snap.get('t_s', 0):8.2f} s  {state:8s}"
    trip = snap.get("trip")
    if isinstance(trip, dict):
        head += f"  {trip.get('reason')} ({trip.get('detail')})"
    imu_age = snap.get("imu_age_s")
    readings = [f"belt {_value(snap.get('belt_mps'), 'm/s')}", f"margin {_value(snap.get('rear_margin_m'), 'm')}",
                "imu -" if imu_age is None else f"imu {imu_age * 1000:.0f} ms"]
    line = head
    for reading in readings:
        if len(line) + 2 + len(reading) > width:
            break
        line += "  " + reading
    return line


def _watch(stream: Iterator[dict], out: TextIO, *, as_json: bool) -> None:
    is_tty = out.isatty()
    width = min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns) if is_tty else WIDTH
    drawn = 0
    for snap in stream:
        if as_json:
            out.write(json.dumps(snap) + "\n")
        elif is_tty:
            lines = describe(snap, width=width)
            if drawn:
                out.write(f"\x1b[{drawn}F\x1b[J")  # back to the block's first line, clear below
            out.write("\n".join(lines) + "\n")
            drawn = len(lines)
        else:
            out.write(one_line(snap) + "\n")
        out.flush()


def status_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    paths = candidate_paths(args)
    if isinstance(paths, int):
        return paths
    try:
        sock, path = connect(paths)
    except StatusReadError as err:
        return fail(str(err), EXIT_FAILED)
    try:
        stream = snapshots(sock, path)
        if args.watch:
            try:
                _watch(stream, out, as_json=args.json)
            except KeyboardInterrupt:
                out.write("\n")
                return EXIT_OK
        else:
            snap = next(stream)
            if args.json:
                out.write(json.dumps(snap) + "\n")
            else:
                out.write("\n".join(describe(snap)) + "\n")
    except StatusReadError as err:
        return fail(str(err), EXIT_FAILED)
    finally:
        sock.close()
    return EXIT_OK
