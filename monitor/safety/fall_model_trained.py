"""The fall model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 22 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11, SE01, SE02, SE03, SE04, pp01, pp02, pp03, pp04): 29441 positive and 230340 normal
# gated samples; threshold = the largest normal score + 1.5 (log-odds)
INTERCEPT = 5.773017060845831
COEFFICIENTS = (9.87399403776764, 0.0, 7.547157690471788, 3.18776604235753, 0.0, 0.0,)
THRESHOLD_LOGIT = 7.467714546099412
GATE_DESCENT_MPS = 0.4
GATE_TILT_RAD = 0.1
GATE_AGE_S = 1.5
GAIT_FLOOR_MPS = 0.2
