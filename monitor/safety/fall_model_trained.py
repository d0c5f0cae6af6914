"""The fall model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 22 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11, SE01, SE02, SE03, SE04, pp01, pp02, pp03, pp04): 29441 positive and 231499 normal
# gated samples; threshold = the largest normal score + 1.5 (log-odds)
INTERCEPT = 5.772074039807103
COEFFICIENTS = (10.830200217642385, 0.0, 7.57307069475731, 3.501871368621829, 0.0, 0.16910144987939174,)
THRESHOLD_LOGIT = 8.207945768181757
GATE_DESCENT_MPS = 0.4
GATE_TILT_RAD = 0.1
GATE_AGE_S = 1.0
GAIT_FLOOR_MPS = 0.2
