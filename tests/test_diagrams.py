"""The wiring diagrams are drawn from wiring/netlist.py, current, and cannot be misread:
every pin on a wire of its own net, no wire on another net's track, a dot at every junction."""

import html
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "wiring"))

import diagrams  # noqa: E402
import netlist  # noqa: E402

# The cable view is drawn by wireviz, which runs Graphviz's `dot`: without it, say so and skip.
needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz is not installed (`apt-get install graphviz`; .ci/run installs it): wireviz draws the "
           "cable view with its `dot`")


@needs_graphviz
def test_the_committed_svgs_are_drawn_from_the_current_netlist():
    for name, text in diagrams.render_all().items():
        path = ROOT / "wiring" / name
        assert path.read_text(encoding="utf-8") == text, f"{name}: run python wiring/diagrams.py"


@needs_graphviz
def test_the_drawing_is_the_same_every_time():
    first = diagrams.render_all()
    assert diagrams.render_all() == first
    for text in first.values():
        assert "graphviz version" not in text and "schemdraw" not in text.lower()


@needs_graphviz
def test_the_check_command_says_when_they_are_stale(tmp_path, monkeypatch):
    result = subprocess.run([sys.executable, str(ROOT / "wiring" / "diagrams.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    monkeypatch.setattr(diagrams, "HERE", tmp_path)
    assert diagrams.main(["--check"]) == 1


@pytest.mark.parametrize("make", diagrams.SHEETS, ids=lambda make: make.__name__)
def test_each_schematic_draws_exactly_its_netlist_and_nothing_can_be_misread(make):
    sheet = make()
    assert diagrams.problems(sheet) == []
    drawn = {(ref, pin) for ref, pin in sheet.pins}
    assert drawn == {(p.ref, pin) for p in sheet.parts for pin in p.pins}
    svg = sheet.svg()
    for part in sheet.parts:  # every part is labelled with its reference and value
        assert part.ref in svg and part.value.replace("µ", "µ") in svg


def test_the_checks_catch_a_wire_on_another_nets_track_and_a_missing_dot():
    sheet = diagrams.relay_driver()
    sheet.segments.append(("GND", (1.5, 0.0), (1.0, 0.0)))  # a GND wire laid along the GPIO wire
    assert any("share a track" in p for p in diagrams.problems(sheet))
    sheet = diagrams.relay_driver()
    sheet.dots.discard((1.5, 0.0))  # the T where R2 leaves the GPIO wire
    assert diagrams.problems(sheet) == ["a junction at (1.5, 0.0) has no dot"]
    sheet = diagrams.relay_driver()
    sheet.segments.append(("RELAY", (3.0, 0.5), (3.0, -0.5)))  # a wire through R1's body
    assert any("R1's body" in p for p in diagrams.problems(sheet))


def test_the_cable_view_wires_every_cable_to_its_header_pins():
    harness = diagrams.harness()
    header = harness["connectors"]["X1"]
    for cable in netlist.CABLES:
        assert cable.ref in harness["cables"] and cable.to_ref in harness["connectors"]
        for pin, far, _colour in cable.wires:
            assert pin in header["pins"]
            label = header["pinlabels"][header["pins"].index(pin)]
            assert label.split()[0] == netlist.HEADER_BY_PIN[pin].signal
    svg = html.unescape((ROOT / "wiring" / "cables.svg").read_text(encoding="utf-8"))
    for cable in netlist.CABLES:
        assert cable.to.split(" (")[0] in svg


def test_the_range_sensors_echo_reaches_its_gpio_only_through_the_divider():
    sheet = diagrams.range_sensor()
    nets = netlist.nets(netlist.RANGE_SENSOR)
    assert nets["ECHO_5V"] == {("U2", "ECHO"), ("R16", "1")}  # the 5 V side touches only R16
    assert ("R17", "1") in nets["ECHO"] and ("R17", "2") in nets["GND"]
    echo_port = next(p for p, net in sheet.taps.items() if net == "ECHO")
    assert echo_port != sheet.pins[("U2", "ECHO")]
    assert 2.5 <= netlist.divided_echo_v() <= netlist.GPIO_MAX_V * 1.03  # high enough to read, safe for the pin
    assert "3.3 V at GPIO 24" in sheet.svg()


def test_the_console_schematic_draws_every_console_pin_from_the_header():
    sheet = diagrams.console()
    ports = {net for net in sheet.taps.values() if net not in ("GND", "3V3", "5V")}
    console_signals = {p.signal for p in netlist.HEADER if p.setting.startswith("console.")}
    assert ports == console_signals
    svg = sheet.svg()
    for pin in netlist.HEADER:
        if pin.setting.startswith("console."):
            assert f"GPIO {pin.bcm} (pin {pin.header})" in svg


def test_the_hall_sensor_drawing_gives_the_gap_and_the_config_default_pulses_per_m():
    from monitor.config.schema import Config

    place = netlist.HALL_PLACEMENT
    assert place.pulses_per_m == pytest.approx(Config().belt.pulses_per_m, rel=0.01)
    svg = html.unescape((ROOT / "wiring" / "hall-sensor.svg").read_text(encoding="utf-8"))
    assert f"gap {place.gap_mm[0]:g} to {place.gap_mm[1]:g} mm" in svg
    assert place.magnet in svg and place.sensor in svg and "belt.pulses_per_m = 6.4" in svg


def test_every_drawing_is_listed_in_the_wiring_readme():
    text = (ROOT / "wiring" / "README.md").read_text(encoding="utf-8")
    names = [path.name for path in sorted((ROOT / "wiring").glob("*.svg"))]  # the committed drawings
    assert names
    for name in names:
        assert f"]({name})" in text, name
