"""The fall model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 22 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11, SE01, SE02, SE03, SE04, pp01, pp02, pp03, pp04): 29441 positive and 232442 normal
# gated samples; threshold = the largest normal score + 1.5 (log-odds)
INTERCEPT = 5.704997887435978
COEFFICIENTS = (10.64061602589254, 0.0, 7.485449650340174, 3.439425226012508, 0.0, 0.14588835038692158,)
THRESHOLD_LOGIT = 8.97691993672776
GATE_DESCENT_MPS = 0.4
GATE_TILT_RAD = 0.1
GAIT_FLOOR_MPS = 0.2
