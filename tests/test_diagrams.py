"""The wiring diagrams are built from their source and name the default config's pins."""

import re
import subprocess
import sys
from pathlib import Path

from monitor.config.schema import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "wiring"))

import diagrams  # noqa: E402


def test_the_committed_svgs_are_built_from_the_current_source():
    for diagram in diagrams.DIAGRAMS:
        path = ROOT / "wiring" / f"{diagram.name}.svg"
        assert path.read_text(encoding="utf-8") == diagrams.render(diagram), "run python wiring/diagrams.py"


def test_the_check_command_says_when_they_are_stale(tmp_path, monkeypatch):
    result = subprocess.run([sys.executable, str(ROOT / "wiring" / "diagrams.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    monkeypatch.setattr(diagrams, "HERE", tmp_path)
    assert diagrams.main(["--check"]) == 1


def test_the_overview_names_the_default_pins():
    config = Config()
    labels = " ".join(diagrams.PI.right)
    for name, pin in [("relay", config.relay.pin), ("belt", config.belt.pin),
                      ("trig", config.range.trigger_pin), ("echo", config.range.echo_pin)]:
        assert re.search(rf"GPIO{pin} {name}\b", labels), (name, pin)
