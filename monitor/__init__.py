"""treadguard: what we decide. The safety core, detectors, latch, config, daemon loop, replay and CLI."""
