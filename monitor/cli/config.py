"""`treadguard config --check FILE` and `--example`."""

from __future__ import annotations

import argparse
import sys

from monitor.cli.common import EXIT_OK, package_file, report_config_error
from monitor.config.load import ConfigError, load_config


def config_command(args: argparse.Namespace) -> int:
    if args.example:
        sys.stdout.write(package_file("config/example-config.toml").read_text(encoding="utf-8"))
        return EXIT_OK
    try:
        config = load_config(args.check)
    except ConfigError as err:
        return report_config_error(err, "nothing was started")
    sensors = ["imu"] + (["belt"] if config.belt.enabled else []) + (["range"] if config.range.enabled else [])
    print(f"{args.check}: OK ({', '.join(sensors)}; walking {config.session.walking}; "
          f"loop {config.loop.rate_hz:g} Hz)")
    return EXIT_OK
