"""`treadguard bench`: the scenario library on the simulator, treadguard beside
the treadmill's own safety key and a classic threshold detector.

Prints a table scenario by scenario, then totals; `--json` prints one object
per scenario and system instead. `--export FILE` writes one scenario as a trace.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail


def _run_one(name: str) -> list[dict]:
    from monitor.sim.run import run_scenario
    from monitor.sim.scenarios import BY_NAME

    return [dict(o.as_dict(), reason=o.reason) for o in run_scenario(BY_NAME[name])]


LEGEND = """\
haz     yes: a hazard, the belt must stop; no: a normal session, it must not
walk    forw: the walker faces the console; back: walking backwards
trip    when the system stopped the belt, in s from the hazard's onset (from the
        start in a normal session); - : it never stopped the belt
margin  the walker's smallest distance to the rear edge while the belt moved, m
        (below 0: carried off the back)
result  safe; UNSAFE: a hazard with the walker carried off the back;
        false stop: a normal session in which the belt was stopped
"""


def _verdict_word(row: dict) -> str:
    if row["safe"]:
        return "safe"
    return "UNSAFE" if row["hazard"] else "false stop"


def _cell(row: dict) -> str:
    when = "-" if not row["tripped"] else f"{row['trip_s']:+.2f}s"
    return f"{when:>9} {row['margin_m']:6.2f} {_verdict_word(row):10}"


def print_table(results: list[list[dict]], out=None) -> None:
    out = out or sys.stdout  # looked up now: sys.stdout may have been replaced since import
    systems = [r["system"] for r in results[0]]
    out.write(LEGEND + "\n")
    head = f"{'scenario':34} {'haz':3} {'walk':4} | " + " | ".join(f"{s:^27}" for s in systems)
    sub = f"{'':34} {'':3} {'':4} | " + " | ".join(f"{'trip':>9} {'margin':>6} {'result':10}" for _ in systems)
    out.write(head + "\n" + sub + "\n" + "-" * len(head) + "\n")
    for rows in results:
        first = rows[0]
        cells = " | ".join(_cell(r) for r in rows)
        out.write(f"{first['scenario']:34} {'yes' if first['hazard'] else 'no':3} "
                  f"{first['walking'][:4]:4} | {cells}\n")
    out.write("-" * len(head) + "\n")
    hazards = [rows for rows in results if rows[0]["hazard"]]
    normals = [rows for rows in results if not rows[0]["hazard"]]
    for i, system in enumerate(systems):
        safe = sum(rows[i]["safe"] for rows in results)
        haz_safe = sum(rows[i]["safe"] for rows in hazards)
        false_stops = sum(rows[i]["tripped"] for rows in normals)
        tripped = [rows[i]["trip_s"] for rows in hazards if rows[i]["tripped"]]
        out.write(f"{system:11} safe in {safe}/{len(results)} scenarios: hazards {haz_safe}/{len(hazards)} "
                  f"(stopped the belt in {len(tripped)}), normal sessions {len(normals) - false_stops}"
                  f"/{len(normals)} without a false stop\n")
    if "treadguard" in systems and "safety_key" in systems:
        t, k = systems.index("treadguard"), systems.index("safety_key")
        worse = [rows[0]["scenario"] for rows in hazards if rows[t]["margin_m"] < rows[k]["margin_m"] - 1e-9]
        out.write(f"hazards where treadguard's margin is below the safety key's: "
                  f"{', '.join(worse) if worse else 'none'}\n")


def bench_command(args: argparse.Namespace) -> int:
    from monitor.sim.scenarios import BY_NAME, LIBRARY, unknown_scenario_message

    if args.list:
        for s in LIBRARY:
            print(f"{s.name:34} {'hazard' if s.hazard else 'normal':6} {s.walking:8} {s.summary}")
        return EXIT_OK
    unknown = [n for n in args.scenarios if n not in BY_NAME]
    if unknown:
        for name in unknown[1:]:
            fail(unknown_scenario_message(name))
        return fail(unknown_scenario_message(unknown[0]))
    if args.export:
        if len(args.scenarios) != 1:
            return fail("--export FILE needs exactly one SCENARIO")
        from monitor.formats.trace_format import TraceError
        from monitor.formats.trace_writer import write_trace
        from monitor.sim.run import to_trace

        try:
            write_trace(args.export, to_trace(BY_NAME[args.scenarios[0]], args.export))
        except TraceError as err:
            return fail(str(err), EXIT_FAILED)
        print(f"wrote {args.export}")
        return EXIT_OK
    if args.jobs < 1:
        return fail("--jobs must be at least 1", EXIT_USAGE)
    names = args.scenarios or [s.name for s in LIBRARY]
    start = time.perf_counter()
    if args.jobs == 1 or len(names) == 1:
        results = [_run_one(n) for n in names]
    else:
        # Longest first, so the two-minute budget is not spent waiting on one straggler.
        order = sorted(names, key=lambda n: -BY_NAME[n].duration_s)
        with multiprocessing.Pool(min(args.jobs, len(names))) as pool:
            done = dict(zip(order, pool.map(_run_one, order, chunksize=1)))
        results = [done[n] for n in names]
    elapsed_s = time.perf_counter() - start
    if args.json:
        for rows in results:
            for row in rows:
                row.pop("reason", None)
                print(json.dumps(row))
        return EXIT_OK
    print_table(results)
    print(f"{len(names)} scenarios simulated in {elapsed_s:.1f} s")
    return EXIT_OK
