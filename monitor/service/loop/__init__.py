"""The daemon loop: the tick, its clocks, the deadline that lets permission to run expire, its timing and real-time set-up."""
