"""The fall model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 22 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11, SE01, SE02, SE03, SE04, pp01, pp02, pp03, pp04): 29441 positive and 231494 normal
# gated samples; threshold = the largest normal score + 1.5 (log-odds)
INTERCEPT = 5.77209743280649
COEFFICIENTS = (10.829836008169567, 0.0, 7.5729708879272835, 3.501871066507491, 0.0, 0.1694552530681441,)
THRESHOLD_LOGIT = 8.20770878780878
GATE_DESCENT_MPS = 0.4
GATE_TILT_RAD = 0.1
GATE_AGE_S = 1.0
GAIT_FLOOR_MPS = 0.2
