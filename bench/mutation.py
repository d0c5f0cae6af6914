"""Mutation testing of the safety core and the code that opens the relay: the score per file and the survivors.

    python bench/mutation.py                 the full run: every mutant, from scratch (needs the
                                             `mutation` extra: pip install -e '.[test,mutation]')
    python bench/mutation.py --gate          CI's gate: the mutants of the files changed since the
                                             last full run first, then a fixed seeded sample of the
                                             rest, GATE_MUTANTS in all
    python bench/mutation.py --resume        finish an interrupted full run and retest its survivors
                                             with today's tests (a killed mutant stays killed while
                                             tests are only added; after removing or changing a
                                             test, or any mutated file, run from scratch)
    python bench/mutation.py --report        the figures of the last run again, without running
    python bench/mutation.py --jobs N        mutants tested side by side (default: the CPU count)

mutmut (configured in pyproject.toml, [tool.mutmut]) makes each small change (a
comparison flipped, a number moved by one, an operator or a keyword swapped, an
argument dropped, a string changed) to monitor/safety/, to the lease that opens
the relay (monitor/service/loop/deadline.py) and to the relay driver
(drivers/gpio_relay.py), one at a time, and runs the tests that reach the changed
function. A mutant that no test notices has survived. Mutants that cannot change
behaviour are listed, each with why, in tests/mutation_equivalents.toml; any
other survivor fails the run (exit status 1).

A full run records its commit and figures in tests/mutation_full_run.json, so
the gate knows which files changed since. The gate's sample is fixed (seeded by
the mutant names, not by the commit): the same mutants every run, so a failing
gate is a new survivor, never a new draw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"
FULL_RUN = ROOT / "tests" / "mutation_full_run.json"
LOG = MUTANTS / "run.log"
GATE_MUTANTS = 300  # about 4 minutes on 2 cores, with mutmut's start-up
SEED = "treadguard-mutation-gate"
CLASS_MARK = "\u01c1"  # mutmut's separator in a method's mutant name: xǁClassǁmethod

KILLED = {"killed", "caught by type check"}


def mutated_paths() -> list[str]:
    """The files mutmut mutates (pyproject.toml's only_mutate), as repository paths."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    paths = []
    for pattern in config["only_mutate"]:
        paths += sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern) if p.suffix == ".py")
    return paths


def function_of(name: str) -> str:
    """`monitor.safety.core.SafetyCore.tick` from `monitor.safety.core.xǁSafetyCoreǁtick__mutmut_3`."""
    module, _, last = name.partition("__mutmut_")[0].rpartition(".")
    if CLASS_MARK in last:
        _, cls, method = last.split(CLASS_MARK)
        return f"{module}.{cls}.{method}"
    return f"{module}.{last.removeprefix('x_')}"


def results() -> dict[str, tuple[str, str]]:
    """mutant name -> (repository path, status) for every mutant mutmut knows."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        path = str(meta.relative_to(MUTANTS))[: -len(".meta")]
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data.get("exit_code_by_key", {}).items():
            found[name] = (path, status_by_exit_code[code])
    return found


def change_of(name: str, path: str) -> tuple[str, str]:
    """(was, now): the changed lines of a mutant, each side joined with ' / '."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(name, path=path)
    was = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    now = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(was), " / ".join(now)


def load_equivalents() -> list[dict]:
    if not EQUIVALENTS.exists():
        return []
    entries = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8")).get("equivalent", [])
    for entry in entries:
        missing = {"function", "was", "now", "why"} - set(entry)
        if missing:
            sys.exit(f"{EQUIVALENTS.relative_to(ROOT)}: an entry lacks {', '.join(sorted(missing))}: {entry}")
    return entries


def run_mutmut(names: list[str], jobs: int) -> float:
    """mutmut run (on these mutants, or all when names is empty); its output goes to mutants/run.log."""
    MUTANTS.mkdir(exist_ok=True)
    start = time.monotonic()
    with open(LOG, "w", encoding="utf-8") as log:
        code = subprocess.call([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        tail = LOG.read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"mutmut failed (exit {code}); the end of {LOG.relative_to(ROOT)}:\n{tail}")
    return time.monotonic() - start


def generate() -> dict[str, tuple[str, str]]:
    """Make every mutant without testing one (mutmut's own first step), so they can be chosen from."""
    os.chdir(ROOT)
    from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants, setup_source_paths

    MUTANTS.mkdir(exist_ok=True)
    saved = os.dup(1)
    with open(LOG, "w", encoding="utf-8") as log:  # mutmut prints every file it reads
        os.dup2(log.fileno(), 1)
        try:
            copy_src_dir()
            copy_also_copy_files()
            setup_source_paths()
            create_mutants(max(1, os.cpu_count() or 1))
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
    return results()


def changed_since_full_run(paths: list[str]) -> tuple[set[str], str]:
    """The mutated files changed since the commit of the last full run, and that commit."""
    if not FULL_RUN.exists():
        return set(paths), "none recorded"
    commit = json.loads(FULL_RUN.read_text(encoding="utf-8"))["commit"]
    diff = subprocess.run(["git", "diff", "--name-only", commit, "--", *paths], cwd=ROOT,
                          capture_output=True, text=True)
    if diff.returncode != 0:
        return set(paths), f"{commit[:12]} (not in this clone: every file counts as changed)"
    return set(diff.stdout.split()), commit[:12]


def gate_sample(found: dict[str, tuple[str, str]], changed: set[str], size: int) -> list[str]:
    """The changed files' mutants first, then the others, each part in a fixed seeded order."""
    def order(name: str) -> str:
        return hashlib.sha256(f"{SEED}:{name}".encode()).hexdigest()

    first = sorted((n for n, (p, _) in found.items() if p in changed), key=order)
    rest = sorted((n for n, (p, _) in found.items() if p not in changed), key=order)
    return (first + rest)[:size]


def report(found: dict[str, tuple[str, str]], only: list[str] | None = None) -> tuple[dict, list]:
    """Print the score per file and the survivors; return the figures and the survivors."""
    equivalents = load_equivalents()
    names = only if only is not None else sorted(found)
    by_file: dict[str, Counter] = {}
    survivors, used = [], set()
    for name in names:
        path, status = found[name]
        counts = by_file.setdefault(path, Counter())
        counts["mutants"] += 1
        if status in KILLED or status == "timeout":  # a mutant that hangs the tests is caught: CI would stop
            counts["killed"] += 1
            continue
        if status == "not checked":
            counts["not checked"] += 1
            continue
        was, now = change_of(name, path)
        function = function_of(name)
        match = next((i for i, e in enumerate(equivalents)
                      if (e["function"], e["was"], e["now"]) == (function, was, now)), None)
        if match is not None:
            counts["equivalent"] += 1
            used.add(match)
            continue
        counts["survived"] += 1
        survivors.append((name, status, function, was, now))

    print(f"{'file':<38} {'mutants':>7} {'killed':>7} {'equiv.':>6} {'surv.':>5} {'score':>7}")
    total = Counter()
    for path, counts in sorted(by_file.items()):
        total.update(counts)
        print(f"{path:<38} {counts['mutants']:>7} {counts['killed']:>7} {counts['equivalent']:>6} "
              f"{counts['survived']:>5} {score(counts):>7}")
    print(f"{'all':<38} {total['mutants']:>7} {total['killed']:>7} {total['equivalent']:>6} "
          f"{total['survived']:>5} {score(total):>7}")
    if total["not checked"]:
        print(f"{total['not checked']} mutants not checked (an interrupted run): run again")
    share = 100.0 * total["equivalent"] / total["mutants"] if total["mutants"] else 0.0
    print(f"equivalent: {total['equivalent']} of {total['mutants']} ({share:.1f} %), listed in "
          f"{EQUIVALENTS.relative_to(ROOT)}")
    if only is None:
        stale = [e for i, e in enumerate(equivalents) if i not in used]
        for entry in stale:
            print(f"listed as equivalent but no such mutant now: {entry['function']}: {entry['was']} -> {entry['now']}")
    if survivors:
        print(f"\n{len(survivors)} survived (no test noticed the change); `mutmut show NAME` shows one whole:")
        for name, status, function, was, now in survivors:
            print(f"  {name} ({status})\n      was: {was}\n      now: {now}")
    figures = {path: dict(counts) for path, counts in by_file.items()}
    figures["all"] = dict(total)
    return figures, survivors


def score(counts: Counter) -> str:
    judged = counts["mutants"] - counts["equivalent"] - counts["not checked"]
    return f"{100.0 * counts['killed'] / judged:.1f} %" if judged else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--gate", action="store_true", help="the changed files first, then a fixed sample")
    mode.add_argument("--resume", action="store_true", help="finish a full run and retest its survivors")
    mode.add_argument("--report", action="store_true", help="print the last run's figures without running")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants tested side by side")
    parser.add_argument("--gate-mutants", type=int, default=GATE_MUTANTS, help="how many mutants the gate tests")
    args = parser.parse_args(argv)
    try:
        import mutmut  # noqa: F401
    except ImportError:
        print("mutmut is not installed: pip install -e '.[test,mutation]'", file=sys.stderr)
        return 2
    os.chdir(ROOT)

    if args.report:
        if not MUTANTS.exists():
            print("no run yet: python bench/mutation.py", file=sys.stderr)
            return 2
        _, survivors = report(results())
        return 1 if survivors else 0

    if args.gate:
        paths = mutated_paths()
        changed, since = changed_since_full_run(paths)
        found = generate()
        names = gate_sample(found, changed, args.gate_mutants)
        in_changed = sum(1 for n in names if found[n][0] in changed)
        print(f"mutation gate: {len(names)} of {len(found)} mutants; last full run {since}; "
              f"{in_changed} from files changed since ({', '.join(sorted(changed)) or 'none'})")
        seconds = run_mutmut(names, args.jobs)
        print(f"tested in {seconds:.0f} s with {args.jobs} jobs")
        _, survivors = report(results(), only=names)
        return 1 if survivors else 0

    if args.resume:
        seconds = run_mutmut([], args.jobs)  # the mutants not yet judged
        again = sorted(n for n, (_, status) in results().items() if status not in KILLED)
        if again:
            seconds += run_mutmut(again, args.jobs)
    else:
        if MUTANTS.exists():
            shutil.rmtree(MUTANTS)  # a full run tests every mutant anew, never a cached verdict
        seconds = run_mutmut([], args.jobs)
    how = "resumed (earlier verdicts kept, survivors retested)" if args.resume else "from scratch"
    print(f"full run, {how}: {seconds / 60:.1f} min with {args.jobs} jobs")
    figures, survivors = report(results())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    FULL_RUN.write_text(json.dumps({"commit": commit, "how": how, "minutes": round(seconds / 60, 1),
                                    "jobs": args.jobs, "figures": figures}, indent=1, sort_keys=True) + "\n",
                        encoding="utf-8")
    print(f"recorded in {FULL_RUN.relative_to(ROOT)} (commit it: the gate counts changed files from it)")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
