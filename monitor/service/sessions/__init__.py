"""Sessions of the daemon: on the real devices, on a trace (replay) and on the simulator (bench)."""
