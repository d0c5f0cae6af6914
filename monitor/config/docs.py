"""Renders the example config file and the settings reference from the declarations.

Both documents are generated, so they cannot drift from the bounds the checker
enforces; a test checks the committed copies are up to date
(`python -m monitor.config.docs` rewrites them).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from pathlib import Path

from monitor.config.schema import RELATIONS, RULES, SECTIONS, describe_rule, describe_side
from monitor.safety.settings import describe_bounds

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PATH = Path(__file__).resolve().parent / "example-config.toml"
REFERENCE_PATH = ROOT / "docs" / "configuration.md"
EXAMPLE_WIDTH = 80  # `config --example` is read in a terminal: no line wider

HEADER = """\
# treadguard configuration (TOML).
#
# Every setting is shown with its default; delete what you do not change.
# Units are in the names: _s seconds, _m metres, _mps m/s, _mps2 m/s²,
# _radps rad/s, _rad radians, _hz per second.
# Check a file with `treadguard config --check FILE`.
"""


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def _default(field: dataclasses.Field) -> object:
    return field.default if field.default is not dataclasses.MISSING else field.default_factory()


def _allowed(section: str, field: dataclasses.Field) -> str:
    """The setting's own bounds and every rule between settings it is on the left of."""
    words = [describe_bounds(field)]
    for rule in RULES:
        if rule.left == f"{section}.{field.name}":
            when = f" while {' and '.join(rule.when)}" if rule.when else ""
            words.append(f"{RELATIONS[rule.relation][0]} {describe_side(rule.right, rule.factor)}{when}")
    return "; ".join(words)


def render_example() -> str:
    lines = [HEADER]
    for name, cls in SECTIONS.items():
        lines.append(f"[{name}]")
        for field in dataclasses.fields(cls):
            bounds = _allowed(name, field)
            allowed = f" ({bounds})" if bounds != "any value of its type" else ""
            lines += textwrap.wrap(f"{field.metadata.get('help', '')}{allowed}", EXAMPLE_WIDTH,
                                   initial_indent="# ", subsequent_indent="# ", break_long_words=False,
                                   break_on_hyphens=False)
            lines.append(f"{field.name} = {_toml_value(_default(field))}")
        lines.append("")
    return "\n".join(lines)


def render_reference() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from the declarations in `monitor/` by `python -m monitor.config.docs`;",
        "do not edit by hand. `treadguard config --example` prints a commented example,",
        "`treadguard config --check FILE` checks a file against exactly these rules.",
        "",
    ]
    for name, cls in SECTIONS.items():
        lines += [f"## [{name}]", "", "| setting | default | allowed | what it is, and why the default |",
                  "|---|---|---|---|"]
        for field in dataclasses.fields(cls):
            default = _toml_value(_default(field))
            lines.append(f"| `{field.name}` | `{default}` | {_allowed(name, field)} | "
                         f"{field.metadata.get('help', '')} |")
        lines.append("")
    lines += ["## Rules between settings", "",
              "Checked together with the bounds above; a config breaking any of them is refused.", ""]
    lines += [f"- {describe_rule(rule)}." for rule in RULES]
    lines += ["", "Every number must be finite (no `nan` or `inf`), in a list too; lists nest at most",
              "3 levels.", ""]
    return "\n".join(lines)


def main() -> int:
    EXAMPLE_PATH.write_text(render_example(), encoding="utf-8")
    REFERENCE_PATH.parent.mkdir(exist_ok=True)
    REFERENCE_PATH.write_text(render_reference(), encoding="utf-8")
    print(f"wrote {EXAMPLE_PATH.name} and docs/{REFERENCE_PATH.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
