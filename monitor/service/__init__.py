"""The service around the safety core: the daemon loop, its clocks, side outputs, systemd, trip records, devices, replay."""
