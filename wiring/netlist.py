"""The one description of treadguard's wiring: header pins, parts, nets and cables.

Everything else is drawn or checked from this file: wiring/diagrams.py draws the
schematics (schemdraw) and the cable view (wireviz) from it, and the tests check
that it, the pin table in wiring/README.md and the configuration's defaults agree,
and that the charge-pump values keep the relay's drop-out within 50 ms.

Pin numbers are the default configuration's (BCM numbers; header pins 1 to 40).
"""

from __future__ import annotations

from dataclasses import dataclass


# -- the Pi header: what each used pin carries -------------------------------------------------
@dataclass(frozen=True)
class HeaderPin:
    signal: str  # the net's name
    header: int  # physical pin, 1..40
    bcm: int | None = None  # GPIO number, None for power and ground
    setting: str = ""  # the config setting that names this GPIO ("" for power, ground, I2C)


HEADER = (
    HeaderPin("3V3", 1),
    HeaderPin("5V", 2),
    HeaderPin("SDA", 3, bcm=2),
    HeaderPin("5V", 4),
    HeaderPin("SCL", 5, bcm=3),
    HeaderPin("GND", 6),
    HeaderPin("GND", 9),
    HeaderPin("RELAY", 11, bcm=17, setting="relay.pin"),
    HeaderPin("BELT", 13, bcm=27, setting="belt.pin"),
    HeaderPin("GND", 14),
    HeaderPin("TRIG", 16, bcm=23, setting="range.trigger_pin"),
    HeaderPin("3V3", 17),
    HeaderPin("ECHO", 18, bcm=24, setting="range.echo_pin"),
    HeaderPin("GND", 20),
    HeaderPin("BUTTON", 29, bcm=5, setting="console.button_pin"),
    HeaderPin("GND", 30),
    HeaderPin("BUZZER", 32, bcm=12, setting="console.buzzer_pin"),
    HeaderPin("LED_R", 36, bcm=16, setting="console.light_red_pin"),
    HeaderPin("LED_G", 38, bcm=20, setting="console.light_green_pin"),
    HeaderPin("LED_B", 40, bcm=21, setting="console.light_blue_pin"),
)
HEADER_BY_PIN = {p.header: p for p in HEADER}


# -- parts and nets of the circuits ------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    ref: str
    value: str
    pins: dict[str, str]  # the part's pin -> the net it is on
    note: str = ""


# The relay: a signal relay whose gold-clad contacts switch a few mA at a few volts reliably (a
# safety-key loop is 3.3 to 12 V DC at a few mA; plain power-relay contacts need about 100 mA to
# stay clean). Panasonic TQ2-5V: gold-clad silver, minimum load 10 uA at 10 mV DC, 2 A at 30 V DC,
# 5 V coil of 178 Ohm (28 mA). A force-guided relay with a monitoring contact is better still.
RELAY_PART = "TQ2-5V"
RELAY_CONTACT_RATING = "2 A 30 V DC, min. 10 µA 10 mV DC, gold-clad"

# The relay driver (level drive): the GPIO switches an NPN that carries the coil current.
RELAY_DRIVER = (
    Part("R1", "1 kΩ", {"1": "RELAY", "2": "Q1_B"}, "base resistor: about 2.6 mA of base current"),
    Part("R2", "10 kΩ", {"1": "RELAY", "2": "GND"}, "pull-down: released while nothing drives the pin"),
    Part("Q1", "2N2222", {"B": "Q1_B", "C": "COIL_LOW", "E": "GND"}, "NPN, switches the coil"),
    Part("K1", f"{RELAY_PART} coil", {"1": "5V", "2": "COIL_LOW"}, "5 V, 28 mA"),
    Part("D1", "1N4148", {"A": "COIL_LOW", "K": "5V"}, "flyback: the coil's turn-off spike"),
    Part("C5", "10 µF", {"1": "5V", "2": "GND"}, "decoupling at the board's 5 V: the coil's inrush"),
)

# The charge-pump drive: one 74HC423 (two retriggerable monostables) fires on every edge of the
# toggling GPIO, rising (half 1, input B) and falling (half 2, input A); their Q outputs are
# OR-ed by two diodes into the NPN's base. No edge for longer than the pulse width: Q falls,
# the relay drops. It runs from 3.3 V so the GPIO's levels are its levels.
# Power-up: a monostable's state is not defined when its supply comes up (the 74HC123 data sheet
# asks for a reset pulse after power-up), so CLR is held low by R15/C4 for about 120 ms after
# the 3.3 V rail rises: Q stays low and no trigger counts. The part is the 74HC423, the 74HC123's
# twin that cannot be triggered by its CLR input: on a 74HC123 the rising CLR would itself fire
# half 2 (A low, B high), the very pulse it is there to prevent. D4 empties C4 when the supply
# goes, so a short power cut resets it again.
CHARGE_PUMP = (
    Part("R5", "10 kΩ", {"1": "RELAY", "2": "GND"}, "pull-down: a cut wire or a floating pin makes no edge"),
    Part("U1", "74HC423", {"1A": "GND", "1B": "RELAY", "1CLR": "CLR", "1Q": "Q_RISE",
                           "2A": "RELAY", "2B": "3V3", "2CLR": "CLR", "2Q": "Q_FALL",
                           "VCC": "3V3", "GND": "GND", "1CX": "GND", "1RCX": "RC1", "2CX": "GND", "2RCX": "RC2"},
         "dual retriggerable monostable, not triggered by CLR (Nexperia/NXP 74HC423)"),
    Part("C3", "100 nF", {"1": "3V3", "2": "GND"}, "decoupling, at U1's VCC (pin 16) and GND (pin 8)"),
    Part("R15", "100 kΩ", {"1": "3V3", "2": "CLR"}, "power-on reset: CLR rises with tau = 100 ms"),
    Part("C4", "1 µF", {"1": "CLR", "2": "GND"}, "power-on reset capacitor"),
    Part("D4", "1N4148", {"A": "CLR", "K": "3V3"}, "empties C4 when the supply goes"),
    Part("R6", "56 kΩ 1 %", {"1": "3V3", "2": "RC1"}, "timing resistor, half 1"),
    Part("C1", "1 µF film 5 %", {"1": "RC1", "2": "GND"}, "timing capacitor, half 1 (between Cext and Rext/Cext)"),
    Part("R7", "56 kΩ 1 %", {"1": "3V3", "2": "RC2"}, "timing resistor, half 2"),
    Part("C2", "1 µF film 5 %", {"1": "RC2", "2": "GND"}, "timing capacitor, half 2"),
    Part("D2", "1N4148", {"A": "Q_RISE", "K": "OR"}, "diode OR of the two Q outputs"),
    Part("D3", "1N4148", {"A": "Q_FALL", "K": "OR"}, ""),
    Part("R8", "1 kΩ", {"1": "OR", "2": "Q1_B"}, "base resistor: about 2 mA"),
    Part("R9", "10 kΩ", {"1": "Q1_B", "2": "GND"}, "holds the base off while both Q are low"),
    Part("Q1", "2N2222", {"B": "Q1_B", "C": "COIL_LOW", "E": "GND"}, ""),
    Part("K1", f"{RELAY_PART} coil", {"1": "5V", "2": "COIL_LOW"}, ""),
    Part("D1", "1N4148", {"A": "COIL_LOW", "K": "5V"}, "flyback"),
    Part("C5", "10 µF", {"1": "5V", "2": "GND"}, "decoupling at the board's 5 V"),
)

# Power-on reset of the charge pump: CLR reaches the 74HC423's high level (0.7 VCC) after
# -tau * ln(0.3) = 1.2 tau.
POR_R_OHMS = 100e3
POR_C_FARADS = 1e-6
CLR_HIGH_FRACTION = 0.7

# The safety-key loop: the relay's normally-open contact in series with the treadmill's key switch.
SAFETY_KEY_LOOP = (
    Part("SK", "safety key switch", {"1": "KEY_A", "2": "KEY_MID"}, "the treadmill's own, unchanged"),
    Part("K1", f"{RELAY_PART} contact COM-NO", {"COM": "KEY_MID", "NO": "KEY_B"},
         f"closed only while energized; {RELAY_CONTACT_RATING}"),
    Part("CTRL", "treadmill controller key input", {"1": "KEY_B", "2": "KEY_A"}, "low-voltage loop"),
)


# The HC-SR04 range sensor (optional, [range]): its ECHO is a 5 V signal, so it reaches GPIO 24
# through a divider: 5 V * 2k / (1k + 2k) = 3.3 V at the pin.
RANGE_SENSOR = (
    Part("U2", "HC-SR04", {"VCC": "5V", "TRIG": "TRIG", "ECHO": "ECHO_5V", "GND": "GND"}, "runs from 5 V"),
    Part("R16", "1 kΩ", {"1": "ECHO_5V", "2": "ECHO"}, "divider, upper: ECHO's 5 V to 3.3 V at the pin"),
    Part("R17", "2 kΩ", {"1": "ECHO", "2": "GND"}, "divider, lower"),
)
ECHO_HIGH_V = 5.0
GPIO_MAX_V = 3.3


def divided_echo_v() -> float:
    """The voltage GPIO 24 sees while ECHO is high."""
    upper = next(p for p in RANGE_SENSOR if p.ref == "R16").value
    lower = next(p for p in RANGE_SENSOR if p.ref == "R17").value
    r_upper, r_lower = (float(v.split()[0]) * 1e3 for v in (upper, lower))
    return ECHO_HIGH_V * r_lower / (r_upper + r_lower)


# The console panel (optional, [console]): the arm button, the status light and the buzzer.
CONSOLE = (
    Part("S1", "momentary push button, normally open", {"1": "BUTTON", "2": "GND"},
         "the arm button; the pin's pull-up holds BUTTON high until it is pressed"),
    Part("R10", "330 Ω", {"1": "LED_R", "2": "LED_RA"}, "about 5 mA per colour"),
    Part("R11", "330 Ω", {"1": "LED_G", "2": "LED_GA"}, ""),
    Part("R12", "330 Ω", {"1": "LED_B", "2": "LED_BA"}, ""),
    Part("LED1", "RGB LED, common cathode", {"R": "LED_RA", "G": "LED_GA", "B": "LED_BA", "K": "GND"},
         "a common-anode LED goes to 3V3 instead (console.light_active_high = false)"),
    Part("R13", "1 kΩ", {"1": "BUZZER", "2": "Q2_B"}, "base resistor"),
    Part("R14", "10 kΩ", {"1": "Q2_B", "2": "GND"}, "holds the base off: a floating pin stays silent"),
    Part("Q2", "2N2222", {"B": "Q2_B", "C": "BUZ_LOW", "E": "GND"}, "NPN: the buzzer's 20-30 mA"),
    Part("BZ1", "active 5 V buzzer", {"+": "5V", "-": "BUZ_LOW"}, "sounds by itself when powered"),
)


# Where the belt sensor sits (wiring/hall-sensor.svg): one magnet on the front roller's surface,
# beyond the belt's edge, and the hall sensor on a bracket from the frame, facing it across a gap.
@dataclass(frozen=True)
class HallPlacement:
    roller_diameter_mm: float = 50.0  # a common front roller; measure yours
    magnets: int = 1  # pulses per roller turn
    magnet: str = "6 x 3 mm neodymium disc"
    sensor: str = "A3144 hall sensor"
    gap_mm: tuple[float, float] = (2.0, 5.0)  # the A3144 switches at about 5 mm from such a magnet
    beyond_belt_mm: float = 10.0  # at least this far outside the belt's edge, so the belt never touches it

    @property
    def pulses_per_m(self) -> float:
        import math

        return self.magnets / (math.pi * self.roller_diameter_mm / 1000.0)


HALL_PLACEMENT = HallPlacement()


def nets(parts: tuple[Part, ...]) -> dict[str, set[tuple[str, str]]]:
    """net -> the (part, pin) pairs on it."""
    out: dict[str, set[tuple[str, str]]] = {}
    for part in parts:
        for pin, net in part.pins.items():
            out.setdefault(net, set()).add((part.ref, pin))
    return out


# -- the charge pump's timing -------------------------------------------------------------------
# Output pulse width for Cext > 10 nF: tW = K * Rext * Cext. The Philips 74HC423 data sheet gives
# K = 0.45 (typical); its twin the 74HC123 gives 0.48 at VCC = 2 V and 0.55 at 5 V. Neither gives a
# spread at 3.3 V, so the worst cases below take K from 0.40 (the 74HC423's 0.45 less 10 %) to
# 0.55, with the parts' tolerances; `treadguard check` times the real circuit's drop-out.
TIMING_R_OHMS = 56e3
TIMING_R_TOLERANCE = 0.01
TIMING_C_FARADS = 1e-6
TIMING_C_TOLERANCE = 0.05
K_MIN, K_MAX = 0.40, 0.55
RELAY_OPERATE_S = 0.010  # a small 5 V relay: operate within 10 ms
RELAY_RELEASE_S = 0.015  # release: 5 ms bare, up to about 15 ms with the flyback diode across the coil
MAX_DROP_OUT_S = 0.050  # what treadguard promises: the relay open within 50 ms of the last edge
HOLD_MARGIN = 1.6  # the loop period is at most the shortest pulse width divided by this


def pulse_width_s(k: float, r_ohms: float = TIMING_R_OHMS, c_farads: float = TIMING_C_FARADS) -> float:
    return k * r_ohms * c_farads


def retrigger_time_s(r_ohms: float = TIMING_R_OHMS, c_farads: float = TIMING_C_FARADS) -> float:
    """The shortest gap between two trigger edges of one half for the second to restart its pulse
    (Philips 74HC123/423 data sheets, note to the AC characteristics, typical at VCC = 5 V):
    t_rt = 30 + 0.19 * R * C^0.9 + 13 * R^1.05 in ns, R in kOhm, C in pF. An edge sooner than
    this after the last one that counted is ignored: the pulse runs on from that one."""
    r_kohm, c_pf = r_ohms / 1e3, c_farads / 1e-12
    return (30 + 0.19 * r_kohm * c_pf ** 0.9 + 13 * r_kohm ** 1.05) * 1e-9


def power_on_reset_s() -> float:
    """How long CLR holds the monostables reset after the 3.3 V rail comes up."""
    import math

    return -POR_R_OHMS * POR_C_FARADS * math.log(1 - CLR_HIGH_FRACTION)


def pulse_width_range_s() -> tuple[float, float]:
    """The shortest and longest pulse width over the parts' tolerances and K's span."""
    shortest = pulse_width_s(K_MIN, TIMING_R_OHMS * (1 - TIMING_R_TOLERANCE), TIMING_C_FARADS * (1 - TIMING_C_TOLERANCE))
    longest = pulse_width_s(K_MAX, TIMING_R_OHMS * (1 + TIMING_R_TOLERANCE), TIMING_C_FARADS * (1 + TIMING_C_TOLERANCE))
    return shortest, longest


# The slowest loop the circuit holds with margin: the loop toggles once per tick, and each
# edge retriggers one half, so the gap between edges is one loop period.
CHARGE_PUMP_MIN_LOOP_HZ = 80.0


# -- cables and connectors (the wireviz view) ----------------------------------------------------
@dataclass(frozen=True)
class Cable:
    ref: str  # W1..
    name: str
    to_ref: str  # the far end's connector designator
    to: str  # the part at the far end
    wires: tuple[tuple[int, str, str], ...]  # (header pin, far-end pin, wire colour code)
    note: str = ""


# The far end of the GPIO 24 wire: the HC-SR04's ECHO after the divider, never ECHO itself.
DIVIDED_ECHO = "ECHO via R16/R17"

# Each cable has its own GND pin next to its signals. 3.3 V has two header pins for three
# users: pin 17 carries two wires (the belt sensor's and the charge-pump board's); 5 V likewise:
# pin 4 carries the HC-SR04's and the console's.
CABLES = (
    Cable("W1", "IMU tether", "X2", "IMU board (MPU-6050 / LSM6DS3)",
          ((1, "VCC", "RD"), (6, "GND", "BK"), (3, "SDA", "BU"), (5, "SCL", "GN")),
          "SDA, SCL each twisted with a GND core; under 1 m at 400 kHz"),
    Cable("W2", "belt sensor", "X3", "belt pulse sensor (hall)",
          ((17, "VCC", "RD"), (14, "GND", "BK"), (13, "OUT", "OG")),
          "shielded; shield to GND at the Pi only"),
    Cable("W3", "relay", "X4", "relay driver board",
          ((2, "5V", "RD"), (17, "3V3", "PK"), (9, "GND", "BK"), (11, "IN", "VT")),
          "3V3: the charge pump's 74HC423 only"),
    Cable("W4", "range sensor", "X5", "HC-SR04 + ECHO divider (optional)",
          ((4, "VCC", "RD"), (20, "GND", "BK"), (16, "TRIG", "YE"), (18, DIVIDED_ECHO, "WH")),
          "ECHO is 5 V: R16/R17 at the sensor end (range-sensor.svg) put 3.3 V on this wire"),
    Cable("W5", "console", "X6", "console panel: arm button, RGB LED, buzzer (optional)",
          ((4, "5V", "RD"), (30, "GND", "BK"), (29, "BUTTON", "YE"), (32, "BUZZER", "BN"),
           (36, "LED_R", "PK"), (38, "LED_G", "GN"), (40, "LED_B", "BU")),
          "5V: the buzzer only; pin 4 carries two wires with the HC-SR04"),
)
