"""`treadguard bridge`: the home dashboard, the session log and MQTT for Home Assistant,
from the daemon's read-only status socket. Runs until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import stat
import sys
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from monitor.cli.common import EXIT_FAILED, EXIT_OK, bench_trip_dir, fail, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config, StatusConfig


def socket_path(config: Config) -> str:
    """The daemon's status socket: [status] socket_path, the one setting the two processes share."""
    return config.status.socket_path


def desk_bench(config: Config) -> tuple[str, str] | None:
    """A desk bench run's status socket and trip folder (`treadguard run --bench`), followed while the
    daemon's socket is absent: only when the config names no socket of its own, and only from a folder
    that is this user's alone (another user could serve a made-up state there); never as the
    systemd service (INVOCATION_ID set), which follows the daemon alone."""
    if config.status.socket_path != StatusConfig().socket_path or os.environ.get("INVOCATION_ID"):
        return None
    from monitor.service.outputs.status_socket import desk_socket_path

    path = desk_socket_path()
    try:
        folder = os.stat(os.path.dirname(path))
    except OSError:
        return None
    if folder.st_uid != os.geteuid() or folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return path, bench_trip_dir()


def read_password(path: str) -> str:
    """The first line of the password file; OSError or ValueError with a message for the person."""
    file = Path(path)
    mode = file.stat().st_mode
    if mode & stat.S_IROTH:
        print(f"treadguard bridge: warning: {path} is readable by every user; "
              f"`chmod 640 {path}` (owner root, group treadguard-bridge)", file=sys.stderr)
    lines = file.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0]:
        raise ValueError(f"{path} is empty: put the broker password on its first line")
    return lines[0]


def _version() -> str:
    try:
        return version("treadguard")
    except PackageNotFoundError:
        return "unknown"


def _plot_maker(config: Config):
    """The trip plot, when this installation can draw one; None otherwise."""
    from monitor.bridge.trip_plots import plot_maker

    return plot_maker(config, str(Path(config.bridge.session_db).parent / "plots"))


def bridge_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else Config()
    except ConfigError as err:
        return report_config_error(err, "the bridge was not started")
    settings = config.bridge
    from monitor.bridge.service import Bridge
    from monitor.bridge.session_log import SessionLogError
    from monitor.bridge.sessions import SessionRules
    from monitor.bridge.trip_words import TripWords

    publisher = None
    if settings.mqtt_host:
        try:
            import paho.mqtt.client  # noqa: F401
        except ImportError:
            return fail("[bridge] mqtt_host is set but paho-mqtt is not installed: "
                        "`pip install 'treadguard[bridge]'` (or leave mqtt_host empty for the dashboard only)")
        from monitor.bridge.mqtt import BrokerSettings, MqttPublisher, Topics

        password = ""
        if settings.mqtt_password_file:
            try:
                password = read_password(settings.mqtt_password_file)
            except (OSError, ValueError) as err:
                return fail(f"bridge.mqtt_password_file: {err}; the bridge was not started")
        for key in ("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file"):
            path = getattr(settings, key)
            if path and not os.access(path, os.R_OK):
                return fail(f"bridge.{key}: {path} is not readable by this user; the bridge was not started")
        broker = BrokerSettings(settings.mqtt_host, settings.mqtt_port, settings.mqtt_tls, settings.mqtt_ca_file,
                                settings.mqtt_cert_file, settings.mqtt_key_file, settings.mqtt_username, password)
        try:
            publisher = MqttPublisher(broker, Topics(settings.device_id, settings.topic_prefix,
                                                     settings.discovery_prefix), _version())
        except (OSError, ValueError) as err:  # e.g. a CA file that is not a certificate
            return fail(f"[bridge] MQTT TLS settings: {err}; the bridge was not started")
    rules = SessionRules(moving_mps=settings.moving_mps, idle_s=settings.session_idle_s)
    bench = desk_bench(config)
    try:
        bridge = Bridge(socket_path=socket_path(config), session_db=settings.session_db, rules=rules,
                        silence_s=settings.status_silence_s, state_interval_s=settings.state_interval_s,
                        publisher=publisher,
                        dashboard_bind=settings.dashboard_bind if settings.dashboard_enabled else None,
                        dashboard_port=settings.dashboard_port, dashboard_hosts=tuple(settings.dashboard_hosts),
                        device_id=settings.device_id,
                        trip_dir=config.record.trip_dir, plot=_plot_maker(config), words=TripWords(config),
                        bench=bench)
    except SessionLogError as err:
        return fail(f"{err}; the bridge was not started", EXIT_FAILED)
    except OSError as err:  # the dashboard's address is taken or not ours
        return fail(f"the dashboard cannot listen on {settings.dashboard_bind}:{settings.dashboard_port} "
                    f"({err.strerror or err}); change [bridge] dashboard_bind or dashboard_port", EXIT_FAILED)
    reading = socket_path(config) + (f" (a bench run's {bench[0]} while that is absent)" if bench else "")
    return run_bridge(bridge, settings.mqtt_host, settings.mqtt_port, reading)


def run_bridge(bridge, mqtt_host: str, mqtt_port: int, socket: str) -> int:
    from monitor.service.outputs.notify import Notifier

    stop = threading.Event()
    previous = {s: signal.signal(s, lambda signum, frame: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    notifier = Notifier.from_environment()
    bridge.start()
    parts = [f"reading {socket}"]
    if bridge.server is not None:
        parts.append(f"dashboard on {bridge.server.url}")
    parts.append(f"MQTT to {mqtt_host}:{mqtt_port}" if mqtt_host else "no MQTT")
    print("treadguard bridge: " + "; ".join(parts) + " (read-only: nothing here can arm the monitor)", flush=True)
    notifier.ready("; ".join(parts))
    try:
        while not stop.wait(1.0):
            pass
    finally:
        notifier.stopping("stopping")
        bridge.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_OK
