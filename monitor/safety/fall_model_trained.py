"""The fall model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 14 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11): 16844 positive and 124400 normal
# gated samples; threshold = the largest normal score + 1.5 (log-odds)
INTERCEPT = 5.551040960678113
COEFFICIENTS = (10.91193679063614, 0.0, 7.608740279182268, 3.451872806387132, 0.0, 0.33493263590565997,)
THRESHOLD_LOGIT = 8.012656134408466
GATE_DESCENT_MPS = 0.4
GATE_TILT_RAD = 0.1
GAIT_FLOOR_MPS = 0.2
