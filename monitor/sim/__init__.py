"""A treadmill-and-walker simulator that runs the real daemon loop, closed loop."""
