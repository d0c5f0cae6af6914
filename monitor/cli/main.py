"""The `treadguard` command: replay, run, bench, check, calibrate, record, status, trips, progress, bridge,
config.

Every failure a person can cause (a bad path, a broken trace, a config typo, a
missing device) ends in a one-line message that names what is wrong and what to
do, and a non-zero exit status; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from monitor import compiled
from monitor.cli.common import EXIT_INTERNAL, EXIT_OK


def _version() -> str:
    """The installed package's version (pyproject.toml is the one place it is written)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("treadguard")
    except PackageNotFoundError:
        return "(not installed: run from a source tree)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="treadguard",
        description="A safety monitor for a home treadmill: stops the belt on a stumble, "
                    "a fall, or drift toward the rear edge.")
    parser.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    # With the opt-in compiled modules (TREADGUARD_COMPILED=1) the version also names them.
    build = "" if compiled.BUILD == "pure Python" else f", {compiled.BUILD}"
    parser.add_argument("--version", action="version", version=f"treadguard {_version()}{build}",
                        help="show the version (and the compiled modules, when they run), and stop")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    replay = commands.add_parser("replay", help="run recorded traces through the safety core")
    replay.add_argument("paths", nargs="+", metavar="PATH",
                        help="trace files (.csv or .csv.gz), or folders of them")
    replay.add_argument("--json", action="store_true", help="one JSON object per trace, one per line")
    replay.add_argument("--config", metavar="FILE", help="settings to replay with (default: built-in defaults)")
    replay.add_argument("--plot", metavar="FILE", help="draw the trace (one) into FILE.png or FILE.svg: "
                                                       "acceleration, tilt, the detector's features, the trip")
    replay.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="traces replayed in parallel (default: number of CPUs)")

    run = commands.add_parser(
        "run", help="run the monitor: on real hardware, or on the bench",
        usage="treadguard run --config FILE\n"
              "       treadguard run --bench [TRACE|SCENARIO] [--speed X] [--config FILE] [--trip-dir DIR]",
        description="`run --config FILE` runs the monitor on the real devices FILE names (as the "
                    "service does); `run --bench` plays a trace, or a bench scenario, through fake "
                    "hardware in real time with a live status line.")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--bench", nargs="?", const="", metavar="TRACE|SCENARIO",
                      help="play a trace, or a bench scenario (`treadguard bench --list`), through fake "
                           "hardware in real time (default: the demo trace)")
    mode.add_argument("--hardware", action="store_true", help=argparse.SUPPRESS)  # implied by --config alone
    run.add_argument("--config", metavar="FILE", help="the config file: the real devices, pins and "
                                                      "settings (see `treadguard config --example`)")
    run.add_argument("--speed", type=float, default=1.0, metavar="X",
                     help="bench playback speed, 1.0 = real time (0.1 to 20)")
    run.add_argument("--trip-dir", metavar="DIR",
                     help="bench only: keep this run's trip records in DIR (default: the bench folder, "
                          "never the config's record.trip_dir)")

    bench = commands.add_parser("bench", help="run the scenario library on the simulator, beside two baselines")
    bench.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="only these scenarios (default: all)")
    bench.add_argument("--json", action="store_true", help="one JSON object per scenario and system")
    bench.add_argument("--list", action="store_true", help="list the scenarios and stop")
    bench.add_argument("--export", metavar="FILE", help="write the one SCENARIO named as a trace file")
    bench.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                       help="scenarios simulated in parallel (default: number of CPUs)")

    check = commands.add_parser("check", help="find and test every configured device, and say what to fix")
    check.add_argument("--config", metavar="FILE", help="the config file (default: the default parts and pins)")

    calibrate = commands.add_parser(
        "calibrate", help="measure the IMU's mount and offsets and the belt's pulses per metre, "
                          "and write them into the config file")
    calibrate.add_argument("--config", metavar="FILE", help="the config file to update (required)")
    calibrate.add_argument("--only", choices=("imu", "belt"), help="calibrate only this part")

    record = commands.add_parser("record", help="record the live sensors to a trace file, "
                                                "with the monitor guarding as in `run`")
    record.add_argument("path", metavar="FILE", help="the trace to write (.csv, or .csv.gz compressed)")
    record.add_argument("--config", metavar="FILE", help="the config file (default: the default parts and pins)")
    record.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (default: Ctrl-C)")

    status = commands.add_parser("status", help="the running monitor's live state: armed or not, the last trip, "
                                                "the sensors, the loop (read-only)")
    status.add_argument("--json", action="store_true", help="the state as JSON, for scripts")
    status.add_argument("--watch", action="store_true", help="keep showing the state as it changes (Ctrl-C stops)")
    status.add_argument("--socket", metavar="PATH", help="the daemon's status socket "
                                                         "(default: status.socket_path, then a bench run's)")
    status.add_argument("--config", metavar="FILE", help="read the socket's path from this config file")

    trips = commands.add_parser("trips", help="list the recorded trips, or explain one (`trips show ID`)")
    from monitor.cli.trips import add_arguments as trips_arguments
    trips_arguments(trips)
    bridge = commands.add_parser(
        "bridge", help="the home dashboard and MQTT for Home Assistant, read from the status socket "
                       "(read-only: it can never arm the monitor)")
    bridge.add_argument("--config", metavar="FILE", help="the config file; its [bridge] section "
                                                         "(default: built-in defaults)")

    progress = commands.add_parser("progress", help="show, set or reset the backward walker's speed ceiling "
                                                    "(on this Pi only)")
    from monitor.cli.progress import add_arguments as progress_arguments
    progress_arguments(progress)

    config = commands.add_parser("config", help="check a config file, or print the example")
    what = config.add_mutually_exclusive_group(required=True)
    what.add_argument("--check", metavar="FILE", help="check every setting and report every problem")
    what.add_argument("--example", action="store_true", help="print the documented example config")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    try:
        if args.command == "replay":
            from monitor.cli.replay import replay_command
            return replay_command(args)
        if args.command == "run":
            from monitor.cli.run import run_command
            return run_command(args)
        if args.command == "bench":
            from monitor.cli.bench import bench_command
            return bench_command(args)
        if args.command == "check":
            from monitor.cli.check import check_command
            return check_command(args)
        if args.command == "calibrate":
            from monitor.cli.calibrate import calibrate_command
            return calibrate_command(args)
        if args.command == "status":
            from monitor.cli.status import status_command
            return status_command(args)
        if args.command == "record":
            from monitor.cli.record import record_command
            return record_command(args)
        if args.command == "trips":
            from monitor.cli.trips import trips_command
            return trips_command(args)
        if args.command == "progress":
            from monitor.cli.progress import progress_command
            return progress_command(args)
        if args.command == "bridge":
            from monitor.cli.bridge import bridge_command
            return bridge_command(args)
        from monitor.cli.config import config_command
        return config_command(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): nothing more to say
        return EXIT_OK
    except Exception as err:  # the last line of defence against tracebacks
        if args.debug:
            raise
        print(f"treadguard: internal error: {type(err).__name__}: {err} "
              f"(run with --debug for details, and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
