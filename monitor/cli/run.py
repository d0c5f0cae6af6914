"""`treadguard run`: the daemon on real hardware, or on the bench with fake
hardware playing a trace in real time and a live status line."""

from __future__ import annotations

import argparse

from monitor.cli.common import bench_trip_dir, fail, package_file, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
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
    config = _load(args)
    if isinstance(config, int):
        return config
    if args.bench is None:  # `run --config FILE` (or `--hardware --config FILE`): the real treadmill
        if not args.config:
            return fail("`run` needs --config FILE for the real treadmill (see `treadguard config --example`), "
                        "or --bench to try it on fake hardware")
        return run_hardware(config)
    trip_dir = config.record.trip_dir if args.config else bench_trip_dir()
    return run_bench(config, args.bench or str(package_file(DEMO_TRACE)), args.speed, trip_dir=trip_dir)
