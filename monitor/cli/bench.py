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

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, width, wrapped


def _run_one(name: str) -> list[dict]:
    from monitor.sim.run import run_scenario
    from monitor.sim.scenarios import BY_NAME

    return [dict(o.as_dict(), reason=o.reason) for o in run_scenario(BY_NAME[name])]


def _named_run(name: str) -> tuple[str, list[dict]]:
    return name, _run_one(name)


LEGEND = """\
hazard  the belt must stop; normal: a normal session, it must not
walking forward: the walker faces the console; backward: walking backwards
trip s  when the system stopped the belt, in s from the hazard's onset (from
        the start in a normal session); - : it never stopped the belt
margin  the walker's smallest distance to the rear edge while the belt moved, m
        (below 0: carried off the back)
result  safe; UNSAFE: a hazard with the walker carried off the back;
        false stop: a normal session in which the belt was stopped
"""


def _verdict_word(row: dict) -> str:
    if row["safe"]:
        return "safe"
    return "UNSAFE" if row["hazard"] else "false stop"


CELL = 24  # trip, margin and result of one system: three fit in 80 columns with the row's indent


def _cell(row: dict) -> str:
    when = "-" if not row["tripped"] else f"{row['trip_s']:+.2f}"
    return f"{when:>6} {row['margin_m']:6.2f} {_verdict_word(row):10}"


def print_table(results: list[list[dict]], out=None) -> None:
    """Each scenario on a line of its own, its systems' results on the next: at most 80 columns."""
    out = out or sys.stdout  # looked up now: sys.stdout may have been replaced since import
    systems = [r["system"] for r in results[0]]
    out.write(LEGEND + "\n")
    head = "  " + " | ".join(f"{s:{CELL}}" for s in systems)
    sub = "  " + " | ".join(f"{'trip s':>6} {'margin':>6} {'result':10}" for _ in systems)
    rule = "-" * min(width(), max(len(head), len(sub)))
    out.write("scenario (hazard or normal, walking)\n" + head.rstrip() + "\n" + sub.rstrip() + "\n" + rule + "\n")
    for rows in results:
        first = rows[0]
        out.write(f"{first['scenario']} ({'hazard' if first['hazard'] else 'normal'}, {first['walking']})\n")
        out.write(("  " + " | ".join(_cell(r) for r in rows)).rstrip() + "\n")
    out.write(rule + "\n")
    hazards = [rows for rows in results if rows[0]["hazard"]]
    normals = [rows for rows in results if not rows[0]["hazard"]]
    for i, system in enumerate(systems):
        safe = sum(rows[i]["safe"] for rows in results)
        haz_safe = sum(rows[i]["safe"] for rows in hazards)
        false_stops = sum(rows[i]["tripped"] for rows in normals)
        tripped = [rows[i]["trip_s"] for rows in hazards if rows[i]["tripped"]]
        out.write(wrapped(f"{system}: safe in {safe}/{len(results)} scenarios: hazards {haz_safe}/{len(hazards)} "
                          f"(stopped the belt in {len(tripped)}), normal sessions {len(normals) - false_stops}"
                          f"/{len(normals)} without a false stop") + "\n")
    if "treadguard" in systems and "safety_key" in systems:
        t, k = systems.index("treadguard"), systems.index("safety_key")
        worse = [rows[0]["scenario"] for rows in hazards if rows[t]["margin_m"] < rows[k]["margin_m"] - 1e-9]
        out.write(wrapped(f"hazards where treadguard's margin is below the safety key's: "
                          f"{', '.join(worse) if worse else 'none'}") + "\n")


class Progress:
    """What `bench` is doing while it runs: one line that updates on a terminal, a line per scenario
    otherwise (a log, a pipe), on stderr so that stdout stays the table or the JSON."""

    def __init__(self, total: int, out=None, clock=time.perf_counter) -> None:
        self.total = total
        self.out = out or sys.stderr
        self.clock = clock
        self.start_s = clock()
        self.done = 0
        self.is_terminal = hasattr(self.out, "isatty") and self.out.isatty()

    def say(self, text: str) -> None:
        self.out.write(wrapped(text) + "\n")
        self.out.flush()

    def finished(self, name: str) -> None:
        self.done += 1
        line = f"  {self.done}/{self.total} done: {name} ({self.clock() - self.start_s:.0f} s so far)"
        if self.is_terminal:
            self.out.write("\r" + line[:width() - 1] + "\x1b[K" + ("\r\x1b[K" if self.done == self.total else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()


def bench_command(args: argparse.Namespace) -> int:
    from monitor.sim.scenarios import BY_NAME, LIBRARY, unknown_scenario_message

    if args.list:
        for s in LIBRARY:  # the name and what it is on one line, what happens on the next: 80 columns
            print(f"{s.name} ({'hazard' if s.hazard else 'normal'}, {s.walking})")
            print(wrapped(s.summary, "    ", ""))
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
    jobs = 1 if len(names) == 1 else min(args.jobs, len(names))
    progress = Progress(len(names))
    simulated_s = sum(BY_NAME[n].duration_s for n in names)
    progress.say(f"treadguard bench: simulating {len(names)} scenario(s), {simulated_s:.0f} s of walking, "
                 f"each beside the safety key and a threshold detector, on {jobs} worker(s)")
    done: dict[str, list[dict]] = {}
    if jobs == 1:
        for name in names:
            done[name] = _run_one(name)
            progress.finished(name)
    else:
        # Longest first, so the two-minute budget is not spent waiting on one straggler.
        order = sorted(names, key=lambda n: -BY_NAME[n].duration_s)
        from monitor.service.sessions.replay_many import ignore_interrupts

        with multiprocessing.Pool(jobs, initializer=ignore_interrupts) as pool:
            for name, rows in pool.imap_unordered(_named_run, order, chunksize=1):
                done[name] = rows
                progress.finished(name)
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
