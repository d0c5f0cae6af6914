"""The configuration's declarations: every section and setting, with its unit, bounds and why.

Pure declarations (no file is read here): `monitor.config.load` reads a TOML file
against them and checks it completely; `monitor.config.docs` renders the example
config and the reference from them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from monitor.safety.motion import MotionParams
from monitor.safety.settings import setting

IMU_DRIVERS = ("fake", "mpu6050", "lsm6ds3")
BELT_DRIVERS = ("fake", "pulse")
RANGE_DRIVERS = ("fake", "hcsr04")
RELAY_DRIVERS = ("fake", "gpio")
RELAY_DRIVES = ("level", "charge_pump")
# The charge-pump circuit's values (wiring/netlist.py) hold the relay with margin from this loop
# rate up; below it the gap between toggles nears the circuit's shortest pulse width.
CHARGE_PUMP_MIN_LOOP_HZ = 80.0
ACCEL_FULL_SCALES_G = (2, 4, 8, 16)
# imu.part: the exact part where WHO_AM_I cannot tell (0x6C: LSM6DSOX, LSM6DSO or LSM6DSO32).
IMU_PARTS = ("auto", "lsm6dsox", "lsm6dso", "lsm6dso32")
DSO32_ACCEL_FULL_SCALES_G = (4, 8, 16)  # its 32 g is past imu.max_accel_mps2's largest bound
GYRO_FULL_SCALES_DPS = (250, 500, 1000, 2000)
# Where trip records may go: the service's state folder, or a person's or a desk's own folders.
TRIP_DIR_ROOTS = ("/var/lib", "/home", "/srv", "/tmp")


@dataclass(frozen=True)
class LoopConfig:
    rate_hz: float = setting(100.0, "how often the loop reads the sensors and decides", min=20.0, max=1000.0)
    late_s: float = setting(
        0.1, "a tick this long after the previous one means the loop is late: a fault", min=0.02, max=1.0
    )
    deadline_ticks: int = setting(
        4, "the relay's permission to run lasts this many loop periods after each healthy tick "
        "(4 at 100 Hz: 40 ms); a watchdog thread with its own clock releases the relay when the loop "
        "has not renewed it by then, whatever the loop is stuck in, and with relay.drive = \"level\" the "
        "relay keeper process does too when the whole daemon freezes", min=2, max=10,
    )


@dataclass(frozen=True)
class SessionConfig:
    walking: str = setting(
        "forward", "which way the walker faces at the start: the console (forward), the rear (backward), or "
        "auto (not known until the body shows it; the backward limits apply meanwhile). The monitor then "
        "follows the walker's turns and gait ([direction]); this is only where it starts",
        choices=("forward", "backward", "auto"),
    )


@dataclass(frozen=True)
class DirectionConfig:
    """How the monitor follows the walker's facing direction from the body (monitor/safety/direction.py)."""
    enabled: bool = setting(
        True, "follow turns and the gait to know which way the walker faces; false: the direction stays "
        "session.walking (auto then means backward limits throughout)")
    turn_rate_radps: float = setting(
        0.6, "a vertical rate (smoothed below the stride frequency) above this is a turn in progress: a half "
        "turn in 1.8 s (healthy adults) averages 1.7 rad/s, the pelvis's swing from step to step stays below "
        "about 0.4 rad/s once smoothed", min=0.2, max=3.0)
    turn_min_deg: float = setting(
        130.0, "a turn of at least this many degrees flips the direction as it ends (the rate is integrated "
        "over the turn only; the smoothing misses its first and last few degrees)", min=90.0, max=270.0)
    gait_tau_s: float = setting(
        3.0, "the gait's signature (how the fore-aft acceleration is timed against the vertical one) is "
        "averaged over this long: several steps", min=1.0, max=20.0)
    evidence_s: float = setting(
        2.0, "a fully clear gait signature decides the direction after this long (a weaker one takes longer; "
        "changing a decided direction takes twice as long)", min=0.5, max=30.0)
    min_correlation: float = setting(
        0.1, "a gait signature weaker than this (correlation of the vertical jerk with the fore-aft "
        "acceleration; medians over each dev recording: walking 0.11 to 0.71, running -0.33 to -0.78) is no "
        "evidence either way; 0.1 is what bench/evaluate_direction.py --hold-out derives with each person left "
        "out (no recording went even 1 % of its gait the wrong way past -0.008)",
        min=0.0, max=0.9)
    walk_max_step_hz: float = setting(
        2.3, "walking: a cadence up to this (dev recordings: walking 1.2 to 2.4 steps/s, jogging 2.35 and up)",
        min=1.0, max=4.0)
    walk_max_vertical_mps2: float = setting(
        4.0, "and a vertical bounce (RMS in the step band) up to this (dev: walking at most 3.4, jogging "
        "2.9 to 10)", min=0.5, max=20.0)
    run_min_step_hz: float = setting(
        2.4, "running (which times its gait the other way round): a cadence of at least this", min=1.0, max=5.0)
    run_min_vertical_mps2: float = setting(
        2.7, "and a vertical bounce of at least this; a gait that is neither walking nor running by these "
        "says nothing", min=0.5, max=30.0)


@dataclass(frozen=True)
class CeilingConfig:
    """The backward speed ceiling that rises with the walker's own steadiness (monitor/safety/ceiling.py)."""
    enabled: bool = setting(
        True, "limit the belt for a walker facing the rear (or not yet known to face the console) to their "
        "own ceiling, which rises only with steady walking; false: only belt.max_backward_mps applies")
    start_mps: float = setting(
        0.5, "a new backward walker's ceiling (0.5 m/s = 1.8 km/h): older people who fell walked backward "
        "slower than 0.6 m/s (Fritz et al. 2013)", min=0.2, max=2.0)
    min_mps: float = setting(
        0.3, "stumbles and long breaks never lower the ceiling below this", min=0.1, max=2.0)
    step_mps: float = setting(
        0.1, "the ceiling rises (and a stumble lowers it) by this much at a time", min=0.02, max=0.5)
    near_mps: float = setting(
        0.1, "walking within this much below the ceiling counts toward the next rise", min=0.0, max=1.0)
    rise_after_s: float = setting(
        180.0, "steady backward walking near the ceiling for this long raises it a step (warnings and "
        "stumbles start the count again)", min=30.0, max=3600.0)
    confirm_s: float = setting(
        5.0, "the belt above the ceiling for this long stops it (the console warns from the first moment)",
        min=1.0, max=30.0)
    steady_max_step_cv: float = setting(
        0.06, "steady: the variability of the walker's last 16 step times (standard deviation over mean) at "
        "most this (healthy adults about 0.02; older people who later fell about 0.1)", min=0.01, max=0.5)
    steady_max_sway_radps: float = setting(
        0.6, "and the trunk's sway (RMS of its roll and pitch rate over 10 s) at most this", min=0.05, max=5.0)
    break_days: float = setting(
        14.0, "a session after a break of at least this many days starts a step lower", min=1.0, max=365.0)
    progress_file: str = setting(
        "/var/lib/treadguard/progress.json", "where the ceiling is kept between sessions (written whole or "
        "not at all); `treadguard progress` shows, sets and resets it", kind="path", under=TRIP_DIR_ROOTS)


@dataclass(frozen=True)
class ImuConfig:
    driver: str = setting("mpu6050", "which IMU chip is on the waist clip", choices=IMU_DRIVERS)
    part: str = setting(
        "auto", "the exact part, for imu.driver = \"lsm6ds3\" where the chip's WHO_AM_I cannot tell: "
        "the LSM6DSOX, LSM6DSO and LSM6DSO32 all answer 0x6C, and the LSM6DSO32 reads twice the range "
        "on the same codes (1 g would show as 4.9 m/s²); \"auto\": the WHO_AM_I names it, and a chip "
        "answering 0x6C is refused until this names the part printed on it", choices=IMU_PARTS,
    )
    mount: list = setting(
        [], "3x3 rotation from the sensor frame to the treadmill frame (x to the console, "
        "y left, z up) with the walker upright, measured by `treadguard calibrate`; empty: found from "
        "gravity at start", kind="rotation",
    )
    timeout_s: float = setting(
        0.05, "the newest IMU sample older than this is stale: a fault", min=0.01, max=0.5
    )
    failed_reads_max: int = setting(
        2, "failed reads in a row that are tolerated; one more is a fault", min=0, max=20
    )
    frozen_s: float = setting(
        0.5, "all six IMU channels unchanged for this long means a frozen sensor", min=0.1, max=5.0
    )
    max_accel_mps2: float = setting(
        157.0, "an acceleration beyond this (16 g, the largest range of the supported chips) "
        "is not a reading but garbage", min=20.0, max=400.0,
    )
    max_gyro_radps: float = setting(
        35.0, "an angular rate beyond this (2000 deg/s) is not a reading but garbage", min=5.0, max=80.0
    )
    accel_bias_mps2: list = setting(
        [0.0, 0.0, 0.0], "accelerometer offset (x, y, z, sensor frame) the driver subtracts from every "
        "reading; measured along gravity by `treadguard calibrate` (a chip's zero-g offset is up to "
        "about 0.8 m/s²)", min=-2.0, max=2.0,
    )
    gyro_bias_radps: list = setting(
        [0.0, 0.0, 0.0], "gyroscope offset (x, y, z, sensor frame) the driver subtracts from every "
        "reading; measured at rest by `treadguard calibrate` (a chip's zero-rate offset is up to "
        "about 0.35 rad/s = 20 deg/s)", min=-0.5, max=0.5,
    )
    i2c_bus: int = setting(1, "the I2C bus the IMU cable is on: /dev/i2c-N (1 on the Pi's header pins 3 and 5)",
                           min=0, max=31)
    i2c_address: int = setting(
        0, "the IMU's I2C address; 0: the chip's usual one (0x68 = 104 for the MPU-6050 family, "
        "0x69 = 105 with AD0 high; 0x6A = 106 for the LSM6DS3/DSOX, 0x6B = 107 with SA0 high)",
        min=0, max=119,
    )
    sample_rate_hz: float = setting(
        200.0, "IMU samples per second; the chip's nearest rate is used (MPU: 1000/(1+n), "
        "LSM6DS: 104, 208, 416, 833 Hz)", min=50.0, max=1000.0,
    )
    lowpass_hz: float = setting(
        42.0, "the chip's anti-aliasing low-pass bandwidth; its nearest setting is used "
        "(must be at most half the sample rate)", min=5.0, max=500.0,
    )
    accel_full_scale_g: int = setting(
        16, "accelerometer range in g (2, 4, 8 or 16): a fall's impact at the waist can pass 8 g; "
        "16 g still resolves 0.005 m/s²", min=2, max=16,
    )
    gyro_full_scale_dps: int = setting(
        2000, "gyroscope range in degrees per second as the datasheets name it (250, 500, 1000 or 2000); "
        "readings are in rad/s", min=250, max=2000,
    )
    i2c_bus_hz: int = setting(
        0, "the I2C bus speed in Hz (dtparam=i2c_arm_baudrate), used to check at start that the IMU's reads "
        "fit the loop period; 0: read it from the system (the Pi's i2c_bcm2835 driver or the device tree), "
        "assuming 100 kHz where the system does not say", min=0, max=3_400_000,
    )
    reset_check_s: float = setting(
        0.5, "how often the driver checks that the chip still holds its configuration "
        "(a chip that reset itself is a fault)", min=0.05, max=10.0,
    )
    gravity_window_s: float = setting(
        1.0, "the mean magnitude of the acceleration is judged over consecutive windows this long "
        "(long enough that a fall's near free fall and its impact average out)", min=0.2, max=10.0,
    )
    gravity_min_mps2: float = setting(
        4.9, "a window's mean acceleration magnitude below this (0.5 g) is no accelerometer on a person: "
        "0,0,0, values in g instead of m/s², no gravity (real recordings, falls included: 7.1 m/s² "
        "and up over 1 s)", min=0.5, max=9.0,
    )
    gravity_max_mps2: float = setting(
        29.4, "a window's mean acceleration magnitude above this (3 g) is a wrong scale, not a walker "
        "(a fast jog, the highest in the real recordings, averages 2.1 g over 1 s)", min=12.0, max=150.0,
    )
    channel_stuck_s: float = setting(
        3.0, "one IMU channel repeating one value bit for bit this long while another channel changes "
        "is a stuck channel (a person's IMU changes every channel within 0.1 s in the real recordings)",
        min=0.5, max=60.0,
    )
    gyro_zero_s: float = setting(
        0.5, "a gyroscope reading exactly 0 on all three axes this long is not measuring (a real "
        "zero-rate offset is never exactly zero on every axis)", min=0.05, max=10.0,
    )
    failed_reads_window_s: float = setting(
        1.0, "failed IMU reads are also counted over windows this long, so a sensor failing every "
        "other read is a fault even though it never fails many times in a row", min=0.1, max=10.0,
    )
    failed_reads_in_window_max: int = setting(
        10, "failed IMU reads tolerated within one failed_reads_window_s; one more is a fault "
        "(10 in 1 s is 10 % of 100 Hz loop ticks)", min=1, max=1000,
    )


@dataclass(frozen=True)
class BeltConfig:
    enabled: bool = setting(True, "is a belt-speed sensor fitted")
    driver: str = setting("pulse", "the belt-speed sensor", choices=BELT_DRIVERS)
    timeout_s: float = setting(
        0.5, "no belt reading for this long is a fault (the driver reads a stopped belt as 0 m/s)",
        min=0.05, max=5.0,
    )
    max_forward_mps: float = setting(
        4.5, "highest belt speed allowed walking forward (4.5 m/s = 16.2 km/h)", above=0.0, max=10.0
    )
    max_backward_mps: float = setting(
        1.8, "highest belt speed allowed walking backwards (1.8 m/s = 6.5 km/h)", above=0.0, max=5.0
    )
    overspeed_confirm_s: float = setting(
        0.3, "the belt must stay over its limit this long to trip, so one noisy reading does not",
        min=0.0, max=5.0,
    )
    pin: int = setting(27, "GPIO (BCM number) of the pulse sensor's output; the sensor pulls it low, "
                           "the pin's pull-up holds it high", min=2, max=27)
    pulses_per_m: float = setting(
        6.4, "pulses per metre of belt travel: `treadguard calibrate` measures it (a taped belt turned "
        "round by hand); 6.4 is one magnet on a 50 mm roller", above=0.0, max=1000.0,
    )
    debounce_s: float = setting(
        0.002, "an edge this soon after the previous edge is contact bounce or noise and is ignored",
        min=0.0, max=0.05,
    )
    stopped_s: float = setting(
        1.0, "no pulse for this long reads as a stopped belt (0 m/s); the slowest speed measured "
        "is 1 / (pulses_per_m * stopped_s)", min=0.1, max=10.0,
    )
    max_accel_mps2: float = setting(
        10.0, "a change of belt speed faster than this is not the belt but a missed or extra pulse: "
        "that reading is dropped", min=1.0, max=100.0,
    )


@dataclass(frozen=True)
class RangeConfig:
    enabled: bool = setting(False, "is a range sensor fitted at the console, facing the walker")
    driver: str = setting("hcsr04", "the range sensor", choices=RANGE_DRIVERS)
    rear_edge_m: float = setting(
        1.6, "distance from the range sensor to the rear edge of the belt", above=0.3, max=4.0
    )
    min_rear_margin_m: float = setting(
        0.5, "the walker's waist closer than this to the rear edge is a drift trip (the feet "
        "trail the waist by up to about 0.4 m)", min=0.1, max=2.0,
    )
    timeout_s: float = setting(0.3, "no range reading for this long is a fault", min=0.05, max=2.0)
    trigger_pin: int = setting(23, "GPIO (BCM number) wired to the HC-SR04's TRIG", min=2, max=27)
    echo_pin: int = setting(24, "GPIO (BCM number) wired to the HC-SR04's ECHO, through a 5 V to 3.3 V "
                                "divider", min=2, max=27)
    max_distance_m: float = setting(
        3.0, "the farthest distance the range sensor reports; must be beyond the rear edge",
        above=0.3, max=4.0,
    )
    warning_zone_m: float = setting(
        0.25, "the buzzer's pre-warning zone, in front of the drift trip: from min_rear_margin_m + this "
        "to min_rear_margin_m from the rear edge, beeps come faster the deeper the walker drifts in, so "
        "they can step forward before the belt stops (needs [console] buzzer_enabled); 0: no pre-warning. "
        "The trip itself is decided as before, never later", min=0.0, max=1.0,
    )


@dataclass(frozen=True)
class DriftConfig:
    enabled: bool = setting(
        True, "detect a walker who stops stepping while the belt carries them back (IMU + belt speed)"
    )
    min_belt_mps: float = setting(
        0.3, "below this belt speed a walker standing still is not carried anywhere worth stopping for",
        min=0.05, max=2.0,
    )
    max_carry_m: float = setting(
        0.25, "a walker who stopped stepping trips only once the belt has carried them this far; at most "
        "min_belt_mps x max_no_step_s (checked at start), so it never holds a decision past max_no_step_s",
        min=0.05, max=2.0,
    )
    step_band_low_hz: float = setting(
        0.3, "steps are looked for in the vertical acceleration band-passed from this frequency: below the "
        "slowest cadence (about 1 step a second), so gravity and posture drop out and the gait stays",
        min=0.05, max=1.0,
    )
    step_band_high_hz: float = setting(
        3.0, "to this one (two smoothing stages): a step's rise passes, a heel strike's sharp jolt is smoothed "
        "so one step is not seen twice; at least twice step_band_low_hz", min=1.5, max=10.0,
    )
    step_level_tau_s: float = setting(
        2.0, "time constant of the walker's own step size (the RMS of the band-passed signal): a few steps, "
        "and at least max_no_step_s, so after a stop it cannot fade to the noise of standing before the "
        "decision", min=0.5, max=20.0,
    )
    step_level_ratio: float = setting(
        0.4, "a step is a rise of the band-passed vertical acceleration above this fraction of its own recent "
        "RMS, so a soft slow gait counts its steps as a hard one does (a sine peaks at 1.41 x its RMS; an "
        "uneven gait has steps of half the usual size)", min=0.1, max=1.5,
    )
    step_floor_mps2: float = setting(
        0.3, "and above this in any case: over the sway of someone standing still (their band-passed "
        "vertical acceleration stays within about 0.2 m/s²), under the softest slow steps", min=0.1, max=3.0,
    )
    no_step_period_ratio: float = setting(
        1.5, "a walker has stopped stepping after no step for this many of their own recent step periods "
        "(the median of their last 5 step intervals): more than the long step of an uneven gait",
        min=1.1, max=4.0,
    )
    no_step_longest_ratio: float = setting(
        1.2, "and for no step for this many times the longest of those 5 intervals: a turn, or an uneven "
        "gait, mixes quick steps with slow ones", min=1.0, max=3.0,
    )
    min_no_step_s: float = setting(
        0.6, "the no-step limit is never shorter than this: covers the step-to-step variation of slow and "
        "irregular walkers after a run of quick steps", min=0.3, max=5.0,
    )
    max_no_step_s: float = setting(
        0.9, "the no-step limit is never longer than this, and is this until the walker's own period is known "
        "(the first steps, the first steps after a pause, stepping back on from the side rails)",
        min=0.3, max=5.0,
    )
    steps_to_learn: int = setting(
        4, "step intervals seen before the walker's own period sets the limit (the first steps from "
        "standing are uneven)", min=1, max=5,
    )


@dataclass(frozen=True)
class RelayConfig:
    driver: str = setting("gpio", "the relay in the safety-key loop", choices=RELAY_DRIVERS)
    pin: int = setting(17, "GPIO (BCM number) driving the relay module's input", min=2, max=27)
    drive: str = setting(
        "level", "level: the pin is held at its energizing level while the relay is energized; charge_pump: the pin "
        "toggles once per healthy tick and the charge-pump circuit in wiring/ holds the relay only "
        "while the toggling goes on, so a frozen loop, process or Pi drops it within 50 ms by itself "
        f"(needs loop.rate_hz of at least {CHARGE_PUMP_MIN_LOOP_HZ:g} and relay.active_high = true)",
        choices=RELAY_DRIVES,
    )
    active_high: bool = setting(
        True, "true: a high pin energizes the relay, and the pull-down on the input releases it "
        "when the Pi stops driving it (see wiring/); false only for a module that energizes on "
        "low, and then the input needs a pull-UP so a dead Pi still releases it",
    )
    feedback_pin: int = setting(
        -1, "GPIO (BCM number) of a force-guided relay's monitoring contact, read to check the "
        "contacts really follow the command; -1: no feedback contact", min=-1, max=27,
    )
    feedback_closed_when_energized: bool = setting(
        False, "the monitoring contact closes (pulls the feedback pin low) when the relay is "
        "energized (a normally-open contact); false: it closes when released (normally-closed, the "
        "usual force-guided monitoring contact)",
    )
    feedback_settle_s: float = setting(
        0.05, "the relay's operate/release time: the feedback may disagree with the command this "
        "long after a change before it is a fault", min=0.005, max=0.5,
    )


@dataclass(frozen=True)
class RecordConfig:
    trip_dir: str = setting(
        "/var/lib/treadguard/trips", "folder for each trip's explanation and the sensor data around it; "
        "never a system folder, a device or a kernel file system", kind="path", under=TRIP_DIR_ROOTS,
    )
    before_s: float = setting(3.0, "seconds of sensor data kept from before each trip", min=0.5, max=30.0)
    after_s: float = setting(1.0, "seconds of sensor data kept from after each trip", min=0.0, max=10.0)


@dataclass(frozen=True)
class ConsoleConfig:
    button_enabled: bool = setting(
        False, "is an arm button fitted at the console: hold it 1 s to arm, while every check passes")
    button_pin: int = setting(5, "GPIO (BCM number) of the arm button (header pin 29)", min=2, max=27)
    button_pull_up: bool = setting(
        True, "true: the button connects the pin to GND and the pin's pull-up holds it high; false: it "
        "connects the pin to 3.3 V and needs a pull-down resistor")
    button_hold_s: float = setting(
        1.0, "hold the arm button this long to arm (a brush against it does not)", min=0.3, max=5.0)
    button_stuck_s: float = setting(
        10.0, "a button held longer than this (or pressed when treadguard starts) is stuck: it arms "
        "nothing until it has been released", min=3.0, max=60.0)
    light: str = setting(
        "none", "the status light: an RGB LED (three pins), a single LED on light_green_pin, or none",
        choices=("none", "rgb", "single"))
    light_red_pin: int = setting(16, "GPIO (BCM number) of the RGB LED's red (header pin 36)", min=2, max=27)
    light_green_pin: int = setting(
        20, "GPIO (BCM number) of the RGB LED's green, or of a single LED (header pin 38)", min=2, max=27)
    light_blue_pin: int = setting(21, "GPIO (BCM number) of the RGB LED's blue (header pin 40)", min=2, max=27)
    light_active_high: bool = setting(
        True, "true: a high pin lights the LED (common cathode to GND); false: a common-anode LED")
    buzzer_enabled: bool = setting(
        False, "is a buzzer fitted: sounds on a trip, on a refused arm, and the drift pre-warning")
    buzzer_pin: int = setting(
        12, "GPIO (BCM number) driving the buzzer's transistor (header pin 32)", min=2, max=27)
    buzzer_active_high: bool = setting(True, "true: a high pin sounds the buzzer (an NPN transistor)")


@dataclass(frozen=True)
class StatusConfig:
    enabled: bool = setting(
        True, "serve the live state, read-only, on a local UNIX socket for `treadguard status` and the "
        "home bridge; nothing can be changed through it")
    socket_path: str = setting(
        "/run/treadguard/status.sock", "the status socket; its folder must exist and be writable only by "
        "treadguard (systemd makes /run/treadguard with RuntimeDirectory=treadguard)")
    interval_s: float = setting(
        0.25, "a snapshot of the state this often, and at once on every trip or change of state",
        min=0.05, max=10.0)


@dataclass(frozen=True)
class BridgeConfig:
    """`treadguard bridge`: the home dashboard and MQTT, a separate unprivileged process that only
    reads the status socket ([status] socket_path) and can never arm the monitor."""
    mqtt_host: str = setting(
        "", "the MQTT broker's host name or address (e.g. Home Assistant's Mosquitto add-on); "
        "empty: no MQTT, only the dashboard")
    mqtt_port: int = setting(1883, "the broker's port (1883 plain, 8883 usually TLS)", min=1, max=65535)
    mqtt_tls: bool = setting(False, "connect to the broker over TLS")
    mqtt_ca_file: str = setting(
        "", "with mqtt_tls: the CA certificate (PEM) that signed the broker's certificate; empty: the "
        "system's CAs")
    mqtt_cert_file: str = setting(
        "", "with mqtt_tls: a client certificate (PEM) for brokers that ask for one; empty: none")
    mqtt_key_file: str = setting("", "with mqtt_cert_file: its private key (PEM), readable by the bridge only")
    mqtt_username: str = setting("", "the broker user name; empty: connect without one")
    mqtt_password_file: str = setting(
        "", "a file holding the broker password (its first line), readable by the bridge's user only; "
        "the password itself never goes in this config")
    topic_prefix: str = setting(
        "treadguard", "state, trip and availability topics go under <topic_prefix>/<device_id>/")
    discovery_prefix: str = setting(
        "homeassistant", "Home Assistant's MQTT discovery prefix (its default is homeassistant)")
    device_id: str = setting(
        "treadmill", "names this treadmill in topics and in Home Assistant (lower-case letters, digits, _)")
    state_interval_s: float = setting(
        2.0, "the MQTT state is published at most this often (and at once when armed/tripped changes), "
        "so Home Assistant's history does not fill with belt-speed noise", min=0.25, max=60.0)
    dashboard_enabled: bool = setting(True, "serve the local web dashboard")
    dashboard_bind: str = setting(
        "127.0.0.1", "the address the dashboard listens on: 127.0.0.1 this Pi only; 0.0.0.0 (or the "
        "Pi's LAN address) to opt in to the whole home network, read-only and without a password")
    dashboard_hosts: list = setting(
        [], "more names the dashboard answers to (e.g. \"treadmill.home.arpa\"), beside localhost, the bind "
        "address, this Pi's host name and <hostname>.local; any other Host header is refused, so a web page "
        "cannot read the dashboard through DNS rebinding; at most 16 host names or IP addresses")
    dashboard_port: int = setting(8957, "the dashboard's TCP port (0: any free port, printed at start)",
                                  min=0, max=65535)
    session_db: str = setting(
        "/var/lib/treadguard-bridge/sessions.sqlite", "the session log (SQLite), written by the bridge")
    session_idle_s: float = setting(
        120.0, "a session ends once the belt has stood this long (its end is the last moment it moved)",
        min=5.0, max=3600.0)
    moving_mps: float = setting(
        0.1, "a belt faster than this is moving: it starts a session and counts as walking", min=0.01, max=1.0)
    status_silence_s: float = setting(
        2.0, "no snapshot on the status socket for this long means the daemon is not live: availability "
        "goes offline and the bridge reconnects", min=0.5, max=60.0)


@dataclass(frozen=True)
class Config:
    loop: LoopConfig = LoopConfig()
    session: SessionConfig = SessionConfig()
    direction: DirectionConfig = DirectionConfig()
    ceiling: CeilingConfig = CeilingConfig()
    imu: ImuConfig = ImuConfig()
    belt: BeltConfig = BeltConfig()
    range: RangeConfig = RangeConfig()
    drift: DriftConfig = DriftConfig()
    motion: MotionParams = MotionParams()
    relay: RelayConfig = RelayConfig()
    record: RecordConfig = RecordConfig()
    status: StatusConfig = StatusConfig()
    bridge: BridgeConfig = BridgeConfig()
    console: ConsoleConfig = ConsoleConfig()


SECTIONS: dict[str, type] = {f.name: type(f.default) for f in dataclasses.fields(Config)}


# --- rules between settings -------------------------------------------------------------
# Each is declared once here: the loader checks them all together (every broken one is
# reported) and the reference lists them, so a rule cannot be enforced without being
# documented or documented without being enforced.


@dataclass(frozen=True)
class Derived:
    """A quantity computed from settings, named in rules and their messages."""

    words: str  # what it is, e.g. "the IMU sample period"
    formula: str  # how it is computed, in setting names
    unit: str
    value: Callable[["Config"], float]


DERIVED: dict[str, Derived] = {
    "loop.period_s": Derived("the loop period", "1 / loop.rate_hz", "s", lambda c: 1.0 / c.loop.rate_hz),
    "imu.sample_period_s": Derived("the IMU sample period", "1 / imu.sample_rate_hz", "s",
                                   lambda c: 1.0 / c.imu.sample_rate_hz),
    "imu.nyquist_hz": Derived("half the IMU sample rate", "imu.sample_rate_hz / 2", "Hz",
                              lambda c: c.imu.sample_rate_hz / 2),
    "belt.slowest_mps": Derived("the slowest belt speed the pulse sensor can measure",
                                "1 / (belt.pulses_per_m * belt.stopped_s)", "m/s",
                                lambda c: 1.0 / (c.belt.pulses_per_m * c.belt.stopped_s)),
    "drift.slowest_carry_m": Derived("how far the slowest belt that counts carries a walker in the longest "
                                     "no-step limit", "drift.min_belt_mps * drift.max_no_step_s", "m",
                                     lambda c: c.drift.min_belt_mps * c.drift.max_no_step_s),
}

RELATIONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    ">": ("more than", lambda a, b: a > b),
    ">=": ("at least", lambda a, b: a >= b),
    "<": ("less than", lambda a, b: a < b),
    "<=": ("at most", lambda a, b: a <= b),
}


@dataclass(frozen=True)
class Rule:
    """`left` must be `relation` `factor` x `right`, or else `why` happens.

    `left` and `right` are settings ("imu.timeout_s") or `DERIVED` quantities;
    the rule applies only while every switch in `when` ("belt.enabled") is on."""

    left: str
    relation: str
    right: str
    why: str
    factor: float = 1.0
    when: tuple[str, ...] = ()


RULES: tuple[Rule, ...] = (
    Rule("loop.late_s", ">", "loop.period_s", factor=2,
         why="or an ordinary tick would count as late"),
    Rule("imu.timeout_s", ">", "loop.period_s",
         why="or the newest sample is stale between two ticks and the monitor cannot stay armed"),
    Rule("imu.timeout_s", ">=", "imu.sample_period_s", factor=2,
         why="or the newest sample is stale between two samples (one late sample is allowed) "
             "and the monitor cannot stay armed"),
    Rule("motion.max_dt_s", ">=", "imu.sample_period_s", factor=2,
         why="or every sample (or one late sample) restarts the warm-up and nothing is ever detected"),
    Rule("imu.lowpass_hz", "<=", "imu.nyquist_hz", why="or the samples alias"),
    Rule("belt.max_backward_mps", "<=", "belt.max_forward_mps", when=("belt.enabled",),
         why="because walking backwards (facing away from the console) must never be allowed faster than "
             "walking forward"),
    Rule("direction.run_min_step_hz", ">", "direction.walk_max_step_hz", when=("direction.enabled",),
         why="or a cadence is both walking and running"),
    Rule("ceiling.start_mps", "<=", "belt.max_backward_mps", when=("ceiling.enabled",),
         why="or the ceiling starts above the fixed backward limit"),
    Rule("ceiling.min_mps", "<=", "ceiling.start_mps", when=("ceiling.enabled",),
         why="or the starting ceiling is below the lowest one"),
    Rule("belt.slowest_mps", "<", "drift.min_belt_mps", when=("belt.enabled", "drift.enabled"),
         why="or walking belt speeds read 0 m/s and the drift check is blind; raise belt.stopped_s "
             "or check belt.pulses_per_m"),
    Rule("range.max_distance_m", ">", "range.rear_edge_m", when=("range.enabled",),
         why="or a walker at the rear edge reads as no echo"),
    Rule("range.min_rear_margin_m", "<", "range.rear_edge_m", when=("range.enabled",),
         why="or the drift trip fires with the walker anywhere on the belt"),
    Rule("drift.min_no_step_s", "<=", "drift.max_no_step_s", when=("drift.enabled",),
         why="or the no-step limit has no room between its bounds"),
    Rule("drift.step_level_tau_s", ">=", "drift.max_no_step_s", when=("drift.enabled",),
         why="or the step size learnt from the walker fades to the noise of standing before a stop is "
             "decided, and that noise then counts as steps"),
    Rule("drift.step_band_high_hz", ">=", "drift.step_band_low_hz", factor=2, when=("drift.enabled",),
         why="or the band passes no gait"),
    Rule("drift.max_carry_m", "<=", "drift.slowest_carry_m", when=("drift.enabled",),
         why="or on a slow belt a walker who stopped is decided later than drift.max_no_step_s"),
)


def quantity(config: "Config", name: str) -> float:
    """The value of a setting ("imu.timeout_s") or a derived quantity in `config`."""
    if name in DERIVED:
        return DERIVED[name].value(config)
    section, key = name.split(".")
    return getattr(getattr(config, section), key)


def describe_side(name: str, factor: float = 1.0) -> str:
    """A rule's side in words, e.g. "twice the IMU sample period 1 / imu.sample_rate_hz"."""
    times = "" if factor == 1 else ("twice " if factor == 2 else f"{factor:g} x ")
    if name in DERIVED:
        d = DERIVED[name]
        return f"{times}{d.words} {d.formula}"
    return f"{times}{name}"


def unit_of(name: str) -> str:
    """" s", " m/s"... for a derived quantity; settings carry their unit in their name."""
    return f" {DERIVED[name].unit}" if name in DERIVED else ""


def describe_rule(rule: Rule) -> str:
    """The rule in words, for the reference."""
    when = f" (while {' and '.join(rule.when)})" if rule.when else ""
    return (f"{describe_side(rule.left)} must be {RELATIONS[rule.relation][0]} "
            f"{describe_side(rule.right, rule.factor)}{when}, {rule.why}")
