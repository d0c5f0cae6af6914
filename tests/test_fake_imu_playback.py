"""The fake IMU hands over each sample once its time has come, in the order given, however the list was made."""

from __future__ import annotations

from drivers.fake import FakeImu


def _times(batch) -> list[float]:
    return [s.t_s for s in batch.samples]


def test_samples_come_in_order_once_due_and_each_only_once():
    now = [0.0]
    imu = FakeImu(lambda: now[0], [[t, 0, 0, 9.8, 0, 0, 0] for t in (0.0, 0.1, 0.2, 0.3)])
    seen = []
    for now[0] in (0.0, 0.05, 0.1, 0.25, 0.3, 0.4):
        seen.append(_times(imu.read()))
    assert seen == [[0.0], [], [0.1], [0.2], [0.3], []]


def test_a_time_that_goes_back_waits_behind_the_one_before_it():
    now = [0.0]
    imu = FakeImu(lambda: now[0], [[t, 0, 0, 9.8, 0, 0, 0] for t in (0.0, 0.2, 0.1, 0.3)])
    seen = []
    for now[0] in (0.15, 0.25, 0.35):
        seen.append(_times(imu.read()))
    assert seen == [[0.0], [0.2, 0.1], [0.3]]


def test_samples_added_to_the_list_after_it_was_given_are_played_too():
    now = [0.0]
    samples = [[0.0, 0, 0, 9.8, 0, 0, 0]]
    imu = FakeImu(lambda: now[0], samples)
    assert _times(imu.read()) == [0.0]
    samples.append([0.1, 0, 0, 9.8, 0, 0, 0])
    now[0] = 0.1
    assert _times(imu.read()) == [0.1]
