"""The stumble model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 22 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11, SE01, SE02, SE03, SE04, pp01, pp02, pp03, pp04): 8812 positive and 146102 normal
# gated samples; threshold = the largest normal score + 1.2 (log-odds)
INTERCEPT = -2.0690161697421416
COEFFICIENTS = (9.011178515710162, 0.5892038244138834, 1.1590513361601842, 2.628639124245148, 0.0, 0.0,)
THRESHOLD_LOGIT = 6.473066869781302
GATE_JOLT_SCORE_RATIO = 3.0
GAIT_FLOOR_MPS = 0.2
