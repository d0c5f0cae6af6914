"""The fall model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 22 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11, SE01, SE02, SE03, SE04, pp01, pp02, pp03, pp04): 29441 positive and 231494 normal
# gated samples; threshold = the largest normal score + 1.5 (log-odds)
INTERCEPT = 5.906827011795529
COEFFICIENTS = (10.260493932869474, 0.0, 7.5882450107119785, 3.3555031688671764, 0.0, 0.0,)
THRESHOLD_LOGIT = 7.8640682736043255
GATE_DESCENT_MPS = 0.4
GATE_TILT_RAD = 0.1
GATE_AGE_S = 1.0
GAIT_FLOOR_MPS = 0.2
