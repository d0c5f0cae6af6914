"""Draws the wiring diagrams from wiring/netlist.py: schematics with schemdraw, cables with wireviz.

    python wiring/diagrams.py          # rewrites wiring/*.svg
    python wiring/diagrams.py --check  # exits 1 if a committed SVG is out of date

schemdraw and wireviz are what makers use for these drawings (schematics and cable
harnesses), and both take their parts from a description in code, so every part,
value and pin here comes from the netlist. Each schematic records where it drew
each part's pins and each net's wires, so `problems()` can check the drawing
against the netlist: every pin on a wire of its own net, no wire on the track of
another net, and a dot at every junction. The output is made deterministic (no
version strings, fixed ids) so the committed files can be compared.
Needs the `wiring` extra (pip install -e '.[wiring]') and Graphviz's `dot` for wireviz.
"""

from __future__ import annotations

import copy
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import netlist  # noqa: E402

Point = tuple[float, float]


def _pt(xy) -> Point:
    return (round(float(xy[0]), 3), round(float(xy[1]), 3))


# -- schematics ---------------------------------------------------------------------------------
@dataclass
class Sheet:
    """One schematic being drawn, and what was drawn where (for the checks)."""

    name: str
    title: str
    parts: tuple[netlist.Part, ...]
    drawing: object = None
    pins: dict[tuple[str, str], Point] = field(default_factory=dict)  # (ref, pin) -> where it was drawn
    segments: list[tuple[str, Point, Point]] = field(default_factory=list)  # (net, a, b)
    taps: dict[Point, str] = field(default_factory=dict)  # a power/ground symbol or a port: point -> net
    dots: set[Point] = field(default_factory=set)
    bodies: list[tuple[str, Point, Point]] = field(default_factory=list)  # two-terminal parts: (ref, a, b)

    def __post_init__(self) -> None:
        import schemdraw

        schemdraw.use("svg")
        self.drawing = schemdraw.Drawing(show=False, margin=0.8)
        self.drawing.config(fontsize=12, unit=2.0, lw=1.5)
        self.by_ref = {p.ref: p for p in self.parts}

    def title_at(self, at: Point) -> None:
        import schemdraw.elements as elm

        self.add(elm.Label().at(at).label(self.title, loc="right", fontsize=15))

    def label(self, ref: str) -> str:
        part = self.by_ref[ref]
        return f"{ref}\n{part.value}"

    def add(self, element):
        return self.drawing.add(element)

    def two(self, ref: str, element, a: Point, b: Point, pins=("1", "2"), loc: str | None = None, ofst=None):
        """A two-terminal part from a to b; `pins` names its terminals at a and at b."""
        e = element.endpoints(a, b)
        kwargs = {} if loc is None else {"loc": loc}
        if ofst is not None:
            kwargs["ofst"] = ofst
        e.label(self.label(ref), **kwargs)
        self.add(e)
        self.pins[(ref, pins[0])] = _pt(a)
        self.pins[(ref, pins[1])] = _pt(b)
        self.bodies.append((ref, _pt(a), _pt(b)))
        return e

    def wire(self, net: str, *points: Point) -> None:
        import schemdraw.elements as elm

        for a, b in zip(points, points[1:]):
            a, b = _pt(a), _pt(b)
            if a != b:
                self.add(elm.Line().endpoints(a, b))
                self.segments.append((net, a, b))

    def dot(self, at: Point) -> None:
        import schemdraw.elements as elm

        self.add(elm.Dot().at(at))
        self.dots.add(_pt(at))

    def ground(self, at: Point) -> None:
        import schemdraw.elements as elm

        self.add(elm.Ground().at(at))
        self.taps[_pt(at)] = "GND"

    def supply(self, at: Point, net: str) -> None:
        import schemdraw.elements as elm

        self.add(elm.Vdd().at(at).label(net.replace("3V3", "3.3 V").replace("5V", "5 V")))
        self.taps[_pt(at)] = net

    def port(self, at: Point, net: str, text: str) -> None:
        import schemdraw.elements as elm

        self.add(elm.Dot(open=True).at(at).label(text, loc="left"))
        self.taps[_pt(at)] = net

    def svg(self) -> str:
        return _clean_schemdraw(self.drawing.get_imagedata("svg").decode("utf-8"))


def _clean_schemdraw(svg: str) -> str:
    """schemdraw's own SVG (no matplotlib, no timestamps) on a white ground, so the black lines
    stay visible in a viewer with a dark background."""
    box = re.search(r'viewBox="([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+)"', svg)
    if box:
        x, y, w, h = box.groups()
        head_end = svg.index(">", box.end()) + 1
        svg = svg[:head_end] + f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="white"/>' + svg[head_end:]
    return svg.rstrip() + "\n"


def _npn(sheet: Sheet, ref: str, base: Point):
    import schemdraw.elements as elm

    q = sheet.add(elm.BjtNpn(circle=True).right().anchor("base").at(base).label(sheet.label(ref), loc="right"))
    a = q.absanchors
    sheet.pins[(ref, "C")] = _pt(a["collector"])
    sheet.pins[(ref, "B")] = _pt(a["base"])
    sheet.pins[(ref, "E")] = _pt(a["emitter"])
    return _pt(a["collector"]), _pt(a["emitter"])


def _switch_and_coil(sheet: Sheet, base: Point) -> None:
    """Q1 with its base at `base`, the emitter to GND, the coil K1 from 5 V to the collector,
    D1 across the coil on a track of its own."""
    import schemdraw.elements as elm

    collector, emitter = _npn(sheet, "Q1", base)
    sheet.wire("GND", emitter, (emitter[0], emitter[1] - 0.5))
    sheet.ground((emitter[0], emitter[1] - 0.5))
    x, y = collector
    low, top = (x, y + 1.0), (x, y + 4.0)
    sheet.wire("COIL_LOW", collector, low)
    sheet.two("K1", elm.Inductor2(loops=3), top, low, pins=("1", "2"), loc="top")
    sheet.supply(top, "5V")
    sheet.wire("COIL_LOW", low, (x + 2.5, y + 1.0))
    sheet.wire("5V", top, (x + 2.5, top[1]))
    sheet.two("D1", elm.Diode(), (x + 2.5, y + 1.0), (x + 2.5, top[1]), pins=("A", "K"), loc="bottom")
    sheet.dot(low)
    sheet.dot(top)
    decoupling(sheet, "C5", (x + 5.0, top[1]), "5V")


def decoupling(sheet: Sheet, ref: str, top: Point, net: str) -> None:
    """A capacitor from a supply symbol down to ground, drawn where it sits on the board."""
    import schemdraw.elements as elm

    bottom = (top[0], top[1] - 1.5)
    sheet.supply(top, net)
    sheet.two(ref, elm.Capacitor(), top, bottom, pins=("1", "2"), loc="bottom")
    sheet.ground(bottom)


def relay_driver() -> Sheet:
    """The level drive: GPIO 17 through R1 into Q1's base, R2 holding it low, D1 across the coil."""
    import schemdraw.elements as elm

    sheet = Sheet("relay", "Relay driver (relay.drive = \"level\")", netlist.RELAY_DRIVER)
    y = 0.0
    sheet.port((0.0, y), "RELAY", "GPIO 17 (pin 11)")
    sheet.wire("RELAY", (0.0, y), (1.5, y))
    sheet.dot((1.5, y))
    sheet.two("R1", elm.Resistor(), (1.5, y), (4.5, y), loc="top")
    sheet.wire("Q1_B", (4.5, y), (5.5, y))
    _switch_and_coil(sheet, (5.5, y))
    sheet.two("R2", elm.Resistor(), (1.5, y), (1.5, y - 3.0), loc="bottom")
    sheet.ground((1.5, y - 3.0))
    sheet.title_at((-3.0, 6.5))
    return sheet


def charge_pump() -> Sheet:
    """The charge-pump drive: a 74HC423 half on each edge, their Q outputs OR-ed into Q1's base."""
    import schemdraw.elements as elm

    sheet = Sheet("charge-pump", "Charge-pump relay drive (relay.drive = \"charge_pump\")", netlist.CHARGE_PUMP)
    pins = [
        elm.IcPin(name="1B", pin="2", side="left", slot="1/6"),
        elm.IcPin(name="2A", pin="9", side="left", slot="2/6"),
        elm.IcPin(name="1A", pin="1", side="left", slot="3/6"),
        elm.IcPin(name="2B", pin="10", side="left", slot="4/6"),
        elm.IcPin(name="1CLR", pin="3", side="left", slot="5/6", invert=True),
        elm.IcPin(name="2CLR", pin="11", side="left", slot="6/6", invert=True),
        elm.IcPin(name="1Q", pin="13", side="right", slot="1/4"),
        elm.IcPin(name="2Q", pin="5", side="right", slot="2/4"),
        elm.IcPin(name="1RCX", pin="15", side="top", slot="1/3"),
        elm.IcPin(name="VCC", pin="16", side="top", slot="2/3"),
        elm.IcPin(name="2RCX", pin="7", side="top", slot="3/3"),
        elm.IcPin(name="1CX", pin="14", side="bottom", slot="1/3"),
        elm.IcPin(name="GND", pin="8", side="bottom", slot="2/3"),
        elm.IcPin(name="2CX", pin="6", side="bottom", slot="3/3"),
    ]
    ic = sheet.add(elm.Ic(pins=pins, size=(5.0, 9.0), pinspacing=1.5, leadlen=0.75, plblsize=9, lsize=12)
                   .at((6.0, 0.0)).label(sheet.label("U1"), loc="center"))
    a = {name: _pt(ic.absanchors[name]) for name in ("1B", "2A", "1A", "1CLR", "2B", "2CLR", "1Q", "2Q",
                                                     "1RCX", "VCC", "2RCX", "1CX", "GND", "2CX")}
    for name, point in a.items():
        sheet.pins[("U1", name)] = point

    # Left: the GPIO into 1B and 2A; the pull-down R5 at the input.
    x1b, y1b = a["1B"]
    _, y2a = a["2A"]
    bus_x = x1b - 1.5
    sheet.port((0.0, y1b), "RELAY", "GPIO 17 (pin 11)")
    sheet.wire("RELAY", (0.0, y1b), (1.5, y1b), (bus_x, y1b), a["1B"])
    sheet.dot((1.5, y1b))
    sheet.dot((bus_x, y1b))
    sheet.wire("RELAY", (bus_x, y1b), (bus_x, y2a), a["2A"])
    sheet.two("R5", elm.Resistor(), (1.5, y1b), (1.5, y1b - 3.0), loc="bottom")
    sheet.ground((1.5, y1b - 3.0))
    # 1A to GND and 2B to 3.3 V, each by its own short lead.
    x, y = a["1A"]
    sheet.wire("GND", a["1A"], (x - 0.75, y))
    sheet.ground((x - 0.75, y))
    x, y = a["2B"]
    sheet.wire("3V3", a["2B"], (x - 0.75, y))
    sheet.supply((x - 0.75, y), "3V3")
    # Both clears on one line, held low at power-up: R15 up to 3.3 V, C4 down to GND, D4 across R15.
    (x, y1), (_, y2) = a["1CLR"], a["2CLR"]
    bus_x = x - 2.0
    node = (bus_x - 2.0, y2)
    top = (node[0], y2 + 2.5)
    sheet.wire("CLR", a["1CLR"], (bus_x, y1), (bus_x, y2))
    sheet.wire("CLR", a["2CLR"], (bus_x, y2), node)
    sheet.dot((bus_x, y2))
    sheet.two("R15", elm.Resistor(), node, top, pins=("2", "1"), loc="top")
    sheet.supply(top, "3V3")
    sheet.two("C4", elm.Capacitor(), node, (node[0], y2 - 1.5), pins=("1", "2"), loc="top")
    sheet.ground((node[0], y2 - 1.5))
    d_x = node[0] - 3.0
    sheet.wire("CLR", node, (d_x, y2))
    sheet.two("D4", elm.Diode(), (d_x, y2), (d_x, top[1]), pins=("A", "K"), loc="top")
    sheet.wire("3V3", (d_x, top[1]), top)
    sheet.dot(node)
    sheet.dot(top)

    # Top: VCC to 3.3 V; each Rext/Cext pin to its timing resistor (up, to 3.3 V) and its
    # capacitor (out to the side, down to GND).
    x, y = a["VCC"]
    sheet.wire("3V3", a["VCC"], (x, y + 0.5))
    sheet.supply((x, y + 0.5), "3V3")
    for rcx, r, c, net, side in (("1RCX", "R6", "C1", "RC1", -1), ("2RCX", "R7", "C2", "RC2", 1)):
        x, y = a[rcx]
        node = (x, y + 2.0)
        sheet.wire(net, a[rcx], node)
        sheet.dot(node)
        sheet.two(r, elm.Resistor(), node, (x, y + 5.0), pins=("2", "1"), loc="top" if side < 0 else "bottom")
        sheet.supply((x, y + 5.0), "3V3")
        cx = x + 3.25 * side
        sheet.wire(net, node, (cx, node[1]))
        sheet.two(c, elm.Capacitor(), (cx, node[1]), (cx, node[1] - 1.5), pins=("1", "2"),
                  loc="bottom" if side < 0 else "top")
        sheet.ground((cx, node[1] - 1.5))
    # Bottom: GND and the Cext pins to GND; C3, U1's decoupling, beside its GND pin.
    for name in ("1CX", "GND", "2CX"):
        x, y = a[name]
        sheet.wire("GND", a[name], (x, y - 0.5))
        sheet.ground((x, y - 0.5))
    x, y = a["2CX"]
    decoupling(sheet, "C3", (x + 2.0, y - 0.5), "3V3")

    # Right: the diode OR into R8 and Q1's base, R9 holding the base low.
    x1q, y1q = a["1Q"]
    _, y2q = a["2Q"]
    sheet.two("D2", elm.Diode(), a["1Q"], (x1q + 2.5, y1q), pins=("A", "K"), loc="bottom", ofst=0.45)
    sheet.two("D3", elm.Diode(), a["2Q"], (x1q + 2.5, y2q), pins=("A", "K"), loc="top", ofst=0.25)
    or_x = x1q + 3.5
    sheet.wire("OR", (x1q + 2.5, y1q), (or_x, y1q), (or_x, y2q), (x1q + 2.5, y2q))
    ymid = (y1q + y2q) / 2
    sheet.dot((or_x, ymid))
    sheet.wire("OR", (or_x, ymid), (or_x + 0.5, ymid))
    node = (or_x + 4.0, ymid)
    sheet.two("R8", elm.Resistor(), (or_x + 0.5, ymid), (node[0] - 0.5, ymid), loc="top")
    sheet.wire("Q1_B", (node[0] - 0.5, ymid), node, (node[0] + 1.0, ymid))
    sheet.dot(node)
    _switch_and_coil(sheet, (node[0] + 1.0, ymid))
    sheet.two("R9", elm.Resistor(), node, (node[0], ymid - 3.0), loc="bottom")
    sheet.ground((node[0], ymid - 3.0))
    sheet.title_at((-3.0, a["1RCX"][1] + 6.5))
    return sheet


def safety_key_loop() -> Sheet:
    """The relay's normally-open contact in series with the treadmill's own safety key."""
    import schemdraw.elements as elm

    sheet = Sheet("safety-key-loop", "The relay contact in series with the safety key", netlist.SAFETY_KEY_LOOP)
    sheet.two("CTRL", elm.RBox(), (0.0, 0.0), (0.0, 3.0), pins=("2", "1"), loc="top")
    sheet.wire("KEY_B", (0.0, 3.0), (0.0, 4.0), (2.0, 4.0))
    sheet.two("K1", elm.Switch(), (2.0, 4.0), (5.0, 4.0), pins=("NO", "COM"), loc="top")
    sheet.wire("KEY_MID", (5.0, 4.0), (8.0, 4.0))
    sheet.two("SK", elm.Switch(action="close"), (8.0, 4.0), (11.0, 4.0), pins=("2", "1"), loc="top")
    sheet.wire("KEY_A", (11.0, 4.0), (12.0, 4.0), (12.0, -1.0), (0.0, -1.0), (0.0, 0.0))
    sheet.add(elm.Label().at((6.0, -2.6)).label(
        "K1 (treadguard's relay) closes only while energized; SK, the\n"
        "treadmill's own safety key, stays in the loop: either opening\n"
        "stops the belt, exactly as pulling the key does.\n"
        f"K1's contacts: {netlist.RELAY_CONTACT_RATING}: a key loop is a few mA.", loc="center", fontsize=11))
    sheet.title_at((-6.0, 6.5))
    return sheet


def range_sensor() -> Sheet:
    """The HC-SR04: TRIG straight from GPIO 23, its 5 V ECHO through R16/R17 to GPIO 24."""
    import schemdraw.elements as elm

    sheet = Sheet("range-sensor", "Range sensor (range.enabled = true): ECHO through a divider",
                  netlist.RANGE_SENSOR)
    pins = [elm.IcPin(name="GND", side="left", slot="1/4"), elm.IcPin(name="ECHO", side="left", slot="2/4"),
            elm.IcPin(name="TRIG", side="left", slot="3/4"), elm.IcPin(name="VCC", side="left", slot="4/4")]
    ic = sheet.add(elm.Ic(pins=pins, size=(3.0, 6.0), pinspacing=1.5, leadlen=0.75, lsize=12)
                   .at((10.0, 0.0)).label(sheet.label("U2"), loc="center"))
    a = {name: _pt(ic.absanchors[name]) for name in ("GND", "ECHO", "TRIG", "VCC")}
    for name, point in a.items():
        sheet.pins[("U2", name)] = point
    x, y = a["VCC"]
    sheet.wire("5V", a["VCC"], (x - 1.0, y))
    sheet.supply((x - 1.0, y), "5V")
    x, y = a["GND"]
    sheet.wire("GND", a["GND"], (x - 1.0, y))
    sheet.ground((x - 1.0, y))
    x, y = a["TRIG"]
    sheet.port((0.0, y), "TRIG", "GPIO 23 (pin 16)")
    sheet.wire("TRIG", (0.0, y), a["TRIG"])
    x, y = a["ECHO"]
    node = (3.0, y)
    sheet.port((0.0, y), "ECHO", "GPIO 24 (pin 18)")
    sheet.wire("ECHO", (0.0, y), node)
    sheet.two("R16", elm.Resistor(), (x - 3.5, y), node, pins=("1", "2"), loc="top")
    sheet.wire("ECHO_5V", (x - 3.5, y), a["ECHO"])
    sheet.two("R17", elm.Resistor(), node, (node[0], y - 3.0), pins=("1", "2"), loc="bottom")
    sheet.ground((node[0], y - 3.0))
    sheet.dot(node)
    volts = netlist.divided_echo_v()
    sheet.add(elm.Label().at((4.5, y - 4.8)).label(
        f"ECHO is a {netlist.ECHO_HIGH_V:g} V signal; R16 and R17 divide it: "
        f"{netlist.ECHO_HIGH_V:g} V x 2 kΩ / (1 kΩ + 2 kΩ) = {volts:.1f} V at GPIO 24.\n"
        "Without them the 5 V reaches the 3.3 V pin and damages it. Fit them at the sensor end,\n"
        "so the cable carries 3.3 V (cables.svg, W4). TRIG needs no divider.",
        loc="center", fontsize=11))
    sheet.title_at((-4.0, a["VCC"][1] + 2.0))
    return sheet


def console() -> Sheet:
    """The console panel: the arm button to GND, the RGB LED through its resistors, the buzzer's NPN."""
    import schemdraw.elements as elm

    sheet = Sheet("console", "Console (optional, [console]): arm button, status light, buzzer", netlist.CONSOLE)
    # The arm button: from GPIO 5 to GND; the pin's own pull-up holds it high.
    y = 11.0
    sheet.port((0.0, y), "BUTTON", "GPIO 5 (pin 29)")
    sheet.wire("BUTTON", (0.0, y), (3.0, y))
    sheet.two("S1", elm.Button(), (3.0, y), (3.0, y - 2.0), pins=("1", "2"), loc="bottom")
    sheet.ground((3.0, y - 2.0))
    # The status light: each colour through its resistor; the common cathode to GND.
    bus_x = 10.0
    rows = (("R10", "R", "LED_R", "red", "GPIO 16 (pin 36)", 7.0),
            ("R11", "G", "LED_G", "green", "GPIO 20 (pin 38)", 5.0),
            ("R12", "B", "LED_B", "blue", "GPIO 21 (pin 40)", 3.0))
    for ref, pin, net, colour, where, y in rows:
        sheet.port((0.0, y), net, where)
        sheet.wire(net, (0.0, y), (2.0, y))
        sheet.two(ref, elm.Resistor(), (2.0, y), (5.0, y), pins=("1", "2"), loc="top")
        led = sheet.add(elm.LED().endpoints((5.0, y), (8.0, y)).label(colour, loc="top"))
        sheet.pins[("LED1", pin)] = (5.0, y)
        sheet.bodies.append(("LED1", (5.0, y), (8.0, y)))
        del led
        sheet.wire("GND", (8.0, y), (bus_x, y))
    k = (bus_x, rows[-1][5])
    sheet.wire("GND", (bus_x, rows[0][5]), k)
    sheet.pins[("LED1", "K")] = k
    sheet.ground(k)
    sheet.dot((bus_x, rows[1][5]))
    sheet.dot((bus_x, rows[2][5]))
    sheet.add(elm.Label().at((bus_x + 0.4, rows[1][5] + 0.6)).label(sheet.label("LED1"), loc="right", halign="left"))
    # The buzzer: GPIO 12 through R13 into Q2's base, R14 holding it off, the buzzer from 5 V to the collector.
    y = -4.0
    sheet.port((0.0, y), "BUZZER", "GPIO 12 (pin 32)")
    sheet.wire("BUZZER", (0.0, y), (1.5, y))
    sheet.two("R13", elm.Resistor(), (1.5, y), (4.5, y), pins=("1", "2"), loc="top")
    node = (5.5, y)
    sheet.wire("Q2_B", (4.5, y), node, (6.5, y))
    sheet.dot(node)
    sheet.two("R14", elm.Resistor(), node, (node[0], y - 3.0), pins=("1", "2"), loc="bottom")
    sheet.ground((node[0], y - 3.0))
    collector, emitter = _npn(sheet, "Q2", (6.5, y))
    sheet.wire("GND", emitter, (emitter[0], emitter[1] - 0.5))
    sheet.ground((emitter[0], emitter[1] - 0.5))
    x, yc = collector
    low, top = (x, yc + 0.75), (x, yc + 3.25)
    sheet.wire("BUZ_LOW", collector, low)
    sheet.two("BZ1", elm.RBox(), top, low, pins=("+", "-"), loc="bottom")
    sheet.supply(top, "5V")
    sheet.add(elm.Label().at((x - 0.35, top[1] - 0.35)).label("+", loc="center", fontsize=11))
    sheet.title_at((-4.0, 13.0))
    return sheet


SHEETS = (relay_driver, charge_pump, safety_key_loop, range_sensor, console)


# -- the belt sensor's place (a drawing, not a schematic) -----------------------------------------
def hall_placement_svg() -> str:
    """Where the hall sensor and its magnet sit at the front roller: an end view of the roller with
    the magnet on its surface and the sensor across the gap, and a top view showing the magnet
    beyond the belt's edge. Sizes and figures come from netlist.HALL_PLACEMENT."""
    import schemdraw
    import schemdraw.elements as elm
    from schemdraw.segments import SegmentCircle, SegmentPoly

    place = netlist.HALL_PLACEMENT
    schemdraw.use("svg")
    d = schemdraw.Drawing(show=False, margin=0.8)
    d.config(fontsize=12, unit=2.0, lw=1.5)

    def shape(*segments):
        e = elm.Element()
        e.segments.extend(segments)
        return d.add(e.at((0.0, 0.0)).theta(0))  # the segments' own coordinates are the drawing's

    def box(x0, y0, x1, y1, fill="none"):
        return shape(SegmentPoly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], closed=True, fill=fill))

    def line(a, b, **kwargs):
        d.add((elm.Arrow(**kwargs) if kwargs else elm.Line()).endpoints(a, b))

    def text(at, words, align="left", size=11):
        loc = {"left": "right", "right": "left", "center": "center"}[align]
        d.add(elm.Label().at(at).label(words, loc=loc, halign=align, fontsize=size))

    # End view: the roller, the belt over its top, the magnet on its surface at the bottom, the
    # sensor below it across the gap, on a bracket from the frame.
    r = 2.5
    shape(SegmentCircle((0.0, 0.0), r), SegmentCircle((0.0, 0.0), 0.15, fill="black"))
    line((-4.5, r + 0.1), (0.0, r + 0.1))
    line((0.0, r + 0.1), (5.0, r + 0.1), arrow="->")
    text((5.2, r + 0.1), "the belt, toward the rear")
    d.add(elm.Arc2(k=0.3, arrow="->").at((-1.3, 1.3)).to((1.3, 1.3)))
    box(-0.35, -r - 0.3, 0.35, -r, fill="black")  # the magnet
    gap_top, gap_bottom = -r - 0.3, -r - 1.0
    box(-0.5, gap_bottom - 0.5, 0.5, gap_bottom, fill="lightgray")  # the sensor
    box(-2.8, gap_bottom - 0.9, 0.8, gap_bottom - 0.5)  # its bracket
    line((-2.8, gap_bottom - 0.7), (-4.5, gap_bottom - 0.7))
    text((-4.7, gap_bottom - 0.7), "to the frame", align="right")
    line((0.6, gap_top), (1.9, gap_top))
    line((0.6, gap_bottom), (1.9, gap_bottom))
    line((1.6, gap_top + 0.6), (1.6, gap_top), arrow="->")
    line((1.6, gap_bottom - 0.6), (1.6, gap_bottom), arrow="->")
    text((2.1, (gap_top + gap_bottom) / 2), f"gap {place.gap_mm[0]:g} to {place.gap_mm[1]:g} mm")
    text((3.1, -0.9), f"magnet: {place.magnet},\nglued on the roller's surface,\nits south pole facing out")
    line((3.0, -1.5), (0.4, -r - 0.15))  # a leader to the magnet
    text((1.1, gap_bottom - 1.7), f"{place.sensor}, its marked face\ntoward the magnet; shielded cable W2\n"
                                  "to the Pi, the shield grounded at the Pi only")
    text((-r - 0.3, 0.0), f"front roller, end view\n({place.roller_diameter_mm:g} mm; not to scale)",
         align="right")

    # Top view: the roller under the belt; the magnet and the sensor beyond the belt's edge.
    y0, x0 = -11.0, -4.5
    box(x0, y0, x0 + 10.0, y0 + 1.6)  # the roller
    box(x0 + 2.5, y0 - 0.4, x0 + 10.0, y0 + 2.0, fill="lightgray")  # the belt over it
    box(x0 + 0.9, y0 + 0.5, x0 + 1.5, y0 + 1.1, fill="black")  # the magnet, beyond the belt's edge
    box(x0 + 0.7, y0 - 1.3, x0 + 1.7, y0 - 0.8)  # the sensor (below the roller; seen from above here)
    text((x0 + 6.25, y0 + 0.8), "belt", align="center")
    text((x0 + 10.3, y0 + 0.8), "front roller, top view")
    line((x0 + 1.5, y0 + 2.6), (x0 + 2.5, y0 + 2.6), arrow="<->")
    text((x0 + 2.7, y0 + 2.9), f"the magnet at least {place.beyond_belt_mm:g} mm outside the belt's edge,\n"
                               "where the belt never runs")
    text((x0 + 1.9, y0 - 1.05), "the sensor, under the magnet")
    per_m = place.pulses_per_m
    text((x0, y0 - 3.2),
         f"{place.magnets} magnet on a {place.roller_diameter_mm:g} mm roller: one pulse per "
         f"{math.pi * place.roller_diameter_mm / place.magnets:.0f} mm of belt, belt.pulses_per_m = {per_m:.1f}\n"
         "(treadguard calibrate measures yours). Power the sensor from 3.3 V:\n"
         "a sensor output pulled up to 5 V would damage GPIO 27.")
    text((-7.0, 5.5), "Belt sensor: the hall sensor and its magnet at the front roller", size=15)
    return _clean_schemdraw(d.get_imagedata("svg").decode("utf-8"))


# -- the checks of a drawn sheet ------------------------------------------------------------------
def _on_segment(p: Point, a: Point, b: Point) -> bool:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    if x1 == x2 == x:
        return min(y1, y2) <= y <= max(y1, y2)
    if y1 == y2 == y:
        return min(x1, x2) <= x <= max(x1, x2)
    return False


def _overlap(s: tuple[Point, Point], t: tuple[Point, Point]) -> bool:
    """True when two axis-aligned segments share more than a point (one track)."""
    (a, b), (c, d) = s, t
    if a[0] == b[0] == c[0] == d[0]:
        lo, hi = max(min(a[1], b[1]), min(c[1], d[1])), min(max(a[1], b[1]), max(c[1], d[1]))
        return hi > lo
    if a[1] == b[1] == c[1] == d[1]:
        lo, hi = max(min(a[0], b[0]), min(c[0], d[0])), min(max(a[0], b[0]), max(c[0], d[0]))
        return hi > lo
    return False


def _crosses(s: tuple[Point, Point], t: tuple[Point, Point]) -> bool:
    """True when a vertical and a horizontal segment cross inside both."""
    (a, b), (c, d) = s, t
    if a[0] == b[0] and c[1] == d[1]:
        (vx, vy1, vy2), (hy, hx1, hx2) = (a[0], *sorted((a[1], b[1]))), (c[1], *sorted((c[0], d[0])))
    elif a[1] == b[1] and c[0] == d[0]:
        (vx, vy1, vy2), (hy, hx1, hx2) = (c[0], *sorted((c[1], d[1]))), (a[1], *sorted((a[0], b[0])))
    else:
        return False
    return hx1 < vx < hx2 and vy1 < hy < vy2


def problems(sheet: Sheet) -> list[str]:
    """What in the drawing disagrees with the netlist or could be misread."""
    out = []
    expected = {(p.ref, pin): net for p in sheet.parts for pin, net in p.pins.items()}
    for key, net in expected.items():
        if key not in sheet.pins:
            out.append(f"{key[0]}.{key[1]} ({net}) is not drawn")
    for key in sheet.pins:
        if key not in expected:
            out.append(f"{key[0]}.{key[1]} is drawn but not in the netlist")
    # each drawn pin touches its own net (a wire, a symbol or a port) and no other
    for key, point in sheet.pins.items():
        net = expected.get(key)
        touching = {n for n, a, b in sheet.segments if _on_segment(point, a, b)}
        if point in sheet.taps:
            touching.add(sheet.taps[point])
        touching |= {expected.get(k) for k, q in sheet.pins.items() if q == point and k != key}  # pin on pin
        others = set()
        if net not in touching:
            out.append(f"{key[0]}.{key[1]} should be on {net}, touches {sorted(touching) or 'nothing'}")
        if touching - {net} or others:
            out.append(f"{key[0]}.{key[1]} ({net}) also touches {sorted((touching - {net}) | others)}")
    # no wire on the track of another net, no end of one net on another's wire
    for i, (n1, a1, b1) in enumerate(sheet.segments):
        for n2, a2, b2 in sheet.segments[i + 1:]:
            if n1 == n2:
                continue
            if _overlap((a1, b1), (a2, b2)):
                out.append(f"{n1} and {n2} share a track at {a1}-{b1} / {a2}-{b2}")
            if _crosses((a1, b1), (a2, b2)):  # legal in a schematic, but these are drawn without any
                out.append(f"{n1} crosses {n2} at {a1}-{b1} / {a2}-{b2}")
            for p in (a2, b2):
                if _on_segment(p, a1, b1):
                    out.append(f"{n2} ends on the {n1} wire at {p}")
            for p in (a1, b1):
                if _on_segment(p, a2, b2):
                    out.append(f"{n1} ends on the {n2} wire at {p}")
        for p, net in sheet.taps.items():
            if net != n1 and _on_segment(p, a1, b1):
                out.append(f"the {net} symbol at {p} sits on the {n1} wire")
    # nothing runs along or ends inside a part's body, and no other pin sits on it
    for ref, a, b in sheet.bodies:
        for n, c, d in sheet.segments:
            inner = [p for p in (c, d) if _on_segment(p, a, b) and p not in (a, b)]
            if _overlap((a, b), (c, d)) or inner or _crosses((a, b), (c, d)):
                out.append(f"the {n} wire runs into {ref}'s body ({a}-{b})")
        for (r, pn), q in sheet.pins.items():
            if r != ref and _on_segment(q, a, b) and q not in (a, b):
                out.append(f"{r}.{pn} sits on {ref}'s body")
    # a dot exactly where three or more connections of one net meet
    junctions = set()
    points = {p for _, a, b in sheet.segments for p in (a, b)} | set(sheet.pins.values())
    for p in points:
        degree = 0
        for _, a, b in sheet.segments:
            if p in (a, b):
                degree += 1
            elif _on_segment(p, a, b):
                degree += 2
        degree += sum(1 for q in sheet.pins.values() if q == p) + (1 if p in sheet.taps else 0)
        if degree >= 3:
            junctions.add(p)
    for p in sorted(junctions - sheet.dots):
        out.append(f"a junction at {p} has no dot")
    for p in sorted(sheet.dots - junctions):
        out.append(f"a dot at {p} joins nothing")
    return out


# -- the cable view (wireviz) ---------------------------------------------------------------------
def harness() -> dict:
    """The wireviz harness: the Pi header, one cable and one far-end connector per part."""
    used = sorted({pin for cable in netlist.CABLES for pin, _, _ in cable.wires})
    labels = [f"{netlist.HEADER_BY_PIN[p].signal}" + (f" GPIO{netlist.HEADER_BY_PIN[p].bcm}"
                                                      if netlist.HEADER_BY_PIN[p].bcm is not None else "")
              for p in used]
    connectors = {"X1": {"type": "Raspberry Pi 40-pin header (the pins used)", "subtype": "female", "pins": used,
                         "pinlabels": labels}}
    cables = {}
    connections = []
    for cable in netlist.CABLES:
        far_pins = [far for _, far, _ in cable.wires]
        connectors[cable.to_ref] = {"type": cable.to, "pinlabels": far_pins}
        cables[cable.ref] = {"category": "", "notes": cable.note, "wirecount": len(cable.wires),
                             "colors": [colour for _, _, colour in cable.wires], "type": cable.name}
        n = len(cable.wires)
        connections.append([{"X1": [pin for pin, _, _ in cable.wires]}, {cable.ref: list(range(1, n + 1))},
                            {cable.to_ref: list(range(1, n + 1))}])
    return {"connectors": connectors, "cables": cables, "connections": connections}


def cables_svg() -> str:
    from wireviz.wireviz import parse

    svg = parse(copy.deepcopy(harness()), return_types="svg")
    svg = svg if isinstance(svg, str) else svg.decode("utf-8")
    svg = re.sub(r"<!-- Generated by graphviz version[^>]*-->\n?", "", svg)  # differs between installs
    return svg.rstrip() + "\n"


# -- the files -----------------------------------------------------------------------------------
def render_all() -> dict[str, str]:
    """file name -> SVG text, for every diagram."""
    out = {}
    for make in SHEETS:
        sheet = make()
        out[f"{sheet.name}.svg"] = sheet.svg()
    out["hall-sensor.svg"] = hall_placement_svg()
    out["cables.svg"] = cables_svg()
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, text in render_all().items():
        path = HERE / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"wiring diagrams out of date: {', '.join(stale)}; run python wiring/diagrams.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
