"""The stumble model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 22 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11, SE01, SE02, SE03, SE04, pp01, pp02, pp03, pp04): 7807 positive and 136860 normal
# gated samples; threshold = the largest normal score + 1.5 (log-odds)
INTERCEPT = -2.1243472562796857
COEFFICIENTS = (10.144151351159037, 0.7732562528572582, 1.3265062510235979, 2.877843148305103, 0.0, 0.0,)
THRESHOLD_LOGIT = 7.5673925233831145
GATE_JOLT_SCORE_RATIO = 3.0
GAIT_FLOOR_MPS = 0.2
