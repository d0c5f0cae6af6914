"""`treadguard config --check FILE` and `--example`."""

from __future__ import annotations

import argparse
import sys

from monitor.cli import EXIT_OK, EXIT_USAGE, package_file
from monitor.config import ConfigError, load_config


def config_command(args: argparse.Namespace) -> int:
    if args.example:
        sys.stdout.write(package_file("example-config.toml").read_text(encoding="utf-8"))
        return EXIT_OK
    try:
        config = load_config(args.check)
    except ConfigError as err:
        for problem in err.problems:
            print(f"treadguard: {err.source}: {problem}", file=sys.stderr)
        print(f"treadguard: {len(err.problems)} problem(s) in {err.source}; nothing was started",
              file=sys.stderr)
        return EXIT_USAGE
    sensors = ["imu"] + (["belt"] if config.belt.enabled else []) + (["range"] if config.range.enabled else [])
    print(f"{args.check}: OK ({', '.join(sensors)}; walking {config.session.walking}; "
          f"loop {config.loop.rate_hz:g} Hz)")
    return EXIT_OK
