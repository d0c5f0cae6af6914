"""The stumble model's fitted numbers, written by bench/train_motion.py: do not edit by hand."""
# fitted on 22 subjects (HA001, HA002, MS001, SA01, SA02, SA03, SA04, SA05, SA06, SA07, SA08, SA09, SA10, SA11, SE01, SE02, SE03, SE04, pp01, pp02, pp03, pp04): 8641 positive and 144081 normal
# gated samples; threshold = the largest normal score + 1.5 (log-odds)
INTERCEPT = -2.204890960380731
COEFFICIENTS = (9.223096123986746, 0.5806792456082822, 1.1766027880572412, 2.6242510143161826, 0.0, 0.0,)
THRESHOLD_LOGIT = 6.625847526655877
GATE_JOLT_SCORE_RATIO = 3.0
GAIT_FLOOR_MPS = 0.2
