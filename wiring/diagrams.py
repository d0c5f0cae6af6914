"""Draws the wiring diagrams as SVG from the declarations in this file.

    python wiring/diagrams.py          # rewrites wiring/*.svg
    python wiring/diagrams.py --check  # exits 1 if a committed SVG is out of date

Each diagram is a list of parts (boxes with labelled pins) and wires between
pins, declared below; the SVG text is a pure function of these declarations,
so a test can check the committed files are up to date. Pin numbers follow the
default config (see wiring/README.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
PIN_GAP = 22  # vertical distance between pins on a part
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


@dataclass
class Part:
    key: str
    title: str
    x: int
    y: int
    width: int
    left: list[str] = field(default_factory=list)  # pin labels on the left edge, top to bottom
    right: list[str] = field(default_factory=list)
    note: str = ""
    fill: str = "#f4f4f4"

    @property
    def height(self) -> int:
        return 40 + PIN_GAP * max(len(self.left), len(self.right), 1)

    def pin(self, label: str) -> tuple[int, int]:
        for side, pins, px in (("left", self.left, self.x), ("right", self.right, self.x + self.width)):
            if label in pins:
                return px, self.y + 40 + PIN_GAP * pins.index(label)
        raise KeyError(f"{self.key} has no pin {label!r}")


@dataclass
class Wire:
    start: tuple[str, str]  # (part key, pin label)
    end: tuple[str, str]
    color: str = "#333333"
    label: str = ""
    via_x: int | None = None  # route: horizontal to via_x, vertical, horizontal


@dataclass
class Diagram:
    name: str
    title: str
    width: int
    height: int
    parts: list[Part]
    wires: list[Wire]
    notes: list[str] = field(default_factory=list)


def render(diagram: Diagram) -> str:
    parts = {p.key: p for p in diagram.parts}
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{diagram.width}' height='{diagram.height}' "
           f"viewBox='0 0 {diagram.width} {diagram.height}'>",
           f"<rect width='{diagram.width}' height='{diagram.height}' fill='white'/>",
           f"<text x='20' y='30' {FONT} font-size='18' font-weight='bold'>{escape(diagram.title)}</text>"]
    for wire in diagram.wires:
        x1, y1 = parts[wire.start[0]].pin(wire.start[1])
        x2, y2 = parts[wire.end[0]].pin(wire.end[1])
        mid = wire.via_x if wire.via_x is not None else (x1 + x2) // 2
        points = f"{x1},{y1} {mid},{y1} {mid},{y2} {x2},{y2}"
        out.append(f"<polyline points='{points}' fill='none' stroke='{wire.color}' stroke-width='2.5'/>")
        if wire.label:  # above the last leg, just before the pin it arrives at
            anchor = "end" if x2 > mid else "start"
            lx = x2 - 8 if x2 > mid else x2 + 8
            out.append(f"<text x='{lx}' y='{y2 - 5}' {FONT} font-size='11' text-anchor='{anchor}' "
                       f"fill='{wire.color}'>{escape(wire.label)}</text>")
    for part in diagram.parts:
        out.append(f"<rect x='{part.x}' y='{part.y}' width='{part.width}' height='{part.height}' rx='6' "
                   f"fill='{part.fill}' stroke='#222' stroke-width='1.5'/>")
        out.append(f"<text x='{part.x + part.width // 2}' y='{part.y + 22}' {FONT} font-size='13' "
                   f"font-weight='bold' text-anchor='middle'>{escape(part.title)}</text>")
        for label in part.left:
            px, py = part.pin(label)
            out.append(f"<circle cx='{px}' cy='{py}' r='3.5' fill='#222'/>")
            out.append(f"<text x='{px + 8}' y='{py + 4}' {FONT} font-size='11'>{escape(label)}</text>")
        for label in part.right:
            px, py = part.pin(label)
            out.append(f"<circle cx='{px}' cy='{py}' r='3.5' fill='#222'/>")
            out.append(f"<text x='{px - 8}' y='{py + 4}' {FONT} font-size='11' "
                       f"text-anchor='end'>{escape(label)}</text>")
        if part.note:
            out.append(f"<text x='{part.x}' y='{part.y + part.height + 16}' {FONT} font-size='10' "
                       f"fill='#555'>{escape(part.note)}</text>")
    for i, note in enumerate(diagram.notes):
        out.append(f"<text x='20' y='{diagram.height - 20 - 16 * (len(diagram.notes) - 1 - i)}' {FONT} "
                   f"font-size='12'>{escape(note)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


RED, BLACK, BLUE, GREEN, ORANGE, PURPLE = "#c0392b", "#222222", "#1f5fbf", "#1e8449", "#d35400", "#7d3c98"

PI = Part("pi", "Raspberry Pi (BCM numbering)", 40, 60, 230,
          right=["3V3 (pin 1)", "5V (pin 2)", "GPIO2 SDA (pin 3)", "GPIO3 SCL (pin 5)", "GND (pin 6)",
                 "GPIO17 relay (pin 11)", "GPIO27 belt (pin 13)", "GPIO23 trig (pin 16)",
                 "GPIO24 echo (pin 18)"])

OVERVIEW = Diagram(
    "overview", "treadguard: what connects to the Pi", 1020, 640,
    parts=[
        PI,
        Part("imu", "IMU on the waist clip (MPU-6050)", 640, 60, 250, left=["VCC", "GND", "SDA", "SCL"],
             note="on the tether cable, like the safety key; keep it under 1 m (I2C)", fill="#eaf2fb"),
        Part("belt", "Belt pulse sensor (hall)", 640, 230, 250, left=["VCC", "GND", "OUT"],
             note="at the front roller; shielded cable, shield to GND at the Pi end only", fill="#eafaf1"),
        Part("relay", "Relay driver (see relay.svg)", 640, 360, 250, left=["VCC", "GND", "IN"],
             note="contacts in series with the safety-key loop (see safety-key-loop.svg)", fill="#fdf2e9"),
        Part("range", "HC-SR04 range sensor (optional)", 340, 380, 230, left=["VCC", "GND", "TRIG", "ECHO"],
             note="5 V part: ECHO through a 1k/2k divider to 3.3 V", fill="#f5eef8"),
    ],
    wires=[
        Wire(("pi", "3V3 (pin 1)"), ("imu", "VCC"), RED, "3.3 V", via_x=420),
        Wire(("pi", "GND (pin 6)"), ("imu", "GND"), BLACK, via_x=440),
        Wire(("pi", "GPIO2 SDA (pin 3)"), ("imu", "SDA"), BLUE, "SDA", via_x=460),
        Wire(("pi", "GPIO3 SCL (pin 5)"), ("imu", "SCL"), GREEN, "SCL", via_x=480),
        Wire(("pi", "3V3 (pin 1)"), ("belt", "VCC"), RED, via_x=500),
        Wire(("pi", "GND (pin 6)"), ("belt", "GND"), BLACK, via_x=520),
        Wire(("pi", "GPIO27 belt (pin 13)"), ("belt", "OUT"), ORANGE, "pulses (pull-up)", via_x=540),
        Wire(("pi", "5V (pin 2)"), ("relay", "VCC"), RED, "5 V", via_x=580),
        Wire(("pi", "GND (pin 6)"), ("relay", "GND"), BLACK, via_x=600),
        Wire(("pi", "GPIO17 relay (pin 11)"), ("relay", "IN"), PURPLE, "high = run", via_x=620),
        Wire(("pi", "5V (pin 2)"), ("range", "VCC"), RED, via_x=290),
        Wire(("pi", "GND (pin 6)"), ("range", "GND"), BLACK, via_x=300),
        Wire(("pi", "GPIO23 trig (pin 16)"), ("range", "TRIG"), BLUE, via_x=310),
        Wire(("pi", "GPIO24 echo (pin 18)"), ("range", "ECHO"), GREEN, "via divider", via_x=320),
    ],
    notes=["A floating or low GPIO17 means STOP: the relay driver has a pull-down on its input.",
           "The monitor only ever opens a low-voltage loop; it never switches mains."],
)

RELAY = Diagram(
    "relay", "Relay driver: energize to run, pull-down means stop", 940, 420,
    parts=[
        Part("pi", "Raspberry Pi", 40, 80, 180, right=["GPIO17 (pin 11)", "GND (pin 6)", "5V (pin 2)"]),
        Part("r1", "R1 1 kOhm", 300, 60, 120, left=["a"], right=["b"], note="base resistor"),
        Part("r2", "R2 10 kOhm pull-down", 300, 170, 160, left=["a"], right=["b"],
             note="GPIO17 to GND: floating pin = relay off"),
        Part("q1", "Q1 NPN (2N2222)", 520, 60, 150, left=["base", "emitter"], right=["collector"]),
        Part("k1", "K1 relay coil 5 V", 740, 60, 150, left=["coil +", "coil -"],
             note="force-guided relay recommended"),
        Part("d1", "D1 1N4148 flyback", 740, 230, 150, left=["cathode", "anode"],
             note="across the coil, cathode to +5 V"),
    ],
    wires=[
        Wire(("pi", "GPIO17 (pin 11)"), ("r1", "a"), PURPLE, via_x=260),
        Wire(("pi", "GPIO17 (pin 11)"), ("r2", "a"), PURPLE, via_x=270),
        Wire(("r2", "b"), ("pi", "GND (pin 6)"), BLACK, via_x=480),
        Wire(("r1", "b"), ("q1", "base"), PURPLE, via_x=470),
        Wire(("q1", "emitter"), ("pi", "GND (pin 6)"), BLACK, via_x=500),
        Wire(("q1", "collector"), ("k1", "coil -"), ORANGE, via_x=700),
        Wire(("pi", "5V (pin 2)"), ("k1", "coil +"), RED, "+5 V", via_x=690),
        Wire(("d1", "cathode"), ("k1", "coil +"), RED, via_x=715),
        Wire(("d1", "anode"), ("k1", "coil -"), ORANGE, via_x=725),
    ],
    notes=["Ready-made relay modules often include R1, Q1 and D1; check that the input has a pull-down",
           "(or add R2) and that it is active-high. An active-low module energizes when the Pi dies: do not use one."],
)

SAFETY_LOOP = Diagram(
    "safety-key-loop", "The relay opens the treadmill's own safety-key loop", 900, 360,
    parts=[
        Part("ctrl", "Treadmill controller", 40, 80, 200, right=["key loop out", "key loop in"],
             note="low-voltage loop; opening it stops the belt"),
        Part("key", "Safety key (magnetic/clip)", 360, 60, 200, left=["a"], right=["b"],
             note="stays in the loop: works without any software"),
        Part("k1", "Relay K1 contacts (NO)", 360, 200, 200, left=["COM"], right=["NO"],
             note="closed only while treadguard is armed"),
    ],
    wires=[
        Wire(("ctrl", "key loop out"), ("key", "a"), BLACK, via_x=300),
        Wire(("key", "b"), ("k1", "NO"), BLACK, via_x=640),
        Wire(("k1", "COM"), ("ctrl", "key loop in"), BLACK, via_x=320),
    ],
    notes=["Series connection: pulling the key OR releasing the relay stops the belt; neither can start it.",
           "Never wire the relay into mains or the motor circuit, and never bypass the safety key."],
)

DIAGRAMS = (OVERVIEW, RELAY, SAFETY_LOOP)


def main(argv: list[str]) -> int:
    stale = []
    for diagram in DIAGRAMS:
        path = HERE / f"{diagram.name}.svg"
        text = render(diagram)
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote wiring/{path.name}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python wiring/diagrams.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
