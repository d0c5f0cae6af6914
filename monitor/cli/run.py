"""`treadguard run`: the daemon on real hardware, or on the bench with fake
hardware playing a trace in real time and a live status line."""

from __future__ import annotations

import argparse

from monitor.cli.common import EXIT_USAGE, bench_trip_dir, fail, package_file, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config, StatusConfig
from monitor.service.sessions.bench import run_bench
from monitor.service.sessions.on_hardware import run_hardware

DEMO_TRACE = "demo/walk-then-stumble.csv.gz"


def _load(args: argparse.Namespace) -> Config | int:
    if not args.config:
        return Config()
    try:
        return load_config(args.config)
    except ConfigError as err:
        return report_config_error(err, "nothing was started")


def run_command(args: argparse.Namespace) -> int:
    if args.trip_dir is not None and args.bench is None:
        return fail("--trip-dir is for --bench only: the daemon writes its records into record.trip_dir",
                    EXIT_USAGE)
    config = _load(args)
    if isinstance(config, int):
        return config
    if args.bench is None:  # `run --config FILE` (or `--hardware --config FILE`): the real treadmill
        if not args.config:
            return fail("`run` needs --config FILE for the real treadmill (see `treadguard config --example`), "
                        "or --bench to try it on fake hardware")
        return run_hardware(config)
    # A bench run's records stay in the bench folder, whatever the config says, unless asked:
    # `trips` on the real folder must never list a bench trip as a real one.
    trip_dir = args.trip_dir or bench_trip_dir()
    # It serves status where the config says when that is its own choice, never on the service's socket.
    status_path = config.status.socket_path if config.status.socket_path != StatusConfig().socket_path else None
    return run_bench(config, args.bench or str(package_file(DEMO_TRACE)), args.speed, trip_dir=trip_dir,
                     status_path=status_path)
