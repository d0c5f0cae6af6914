"""The safety core: pure (samples in, verdict out, the clock passed in), the detectors and the trip latch. No I/O."""
