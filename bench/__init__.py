"""treadguard bench: evaluation scripts and the treadmill-and-walker simulator."""
