"""Thread control: the tuner keeps the faster thread count as the load comes and goes."""

import pytest

from rnnlm.training.threads import FixedThreads, ThreadTuner, candidates, pinned_threads


class Simulated:
    """A clock and a machine: each minibatch of 100 tokens takes 100 / rate(threads) s."""

    def __init__(self, rates):
        self.now, self.rates, self.threads, self.log = 0.0, rates, None, []

    def clock(self):
        return self.now

    def set_threads(self, n):
        self.threads = n

    def run(self, tuner, minibatches):
        for _ in range(minibatches):
            self.now += 100 / self.rates[self.threads]
            tuner.step(100)
            self.log.append(self.threads)


def share(log, n):
    return sum(t == n for t in log) / len(log)


def test_idle_keeps_all_cores_and_load_moves_to_one_thread_and_back():
    machine = Simulated({2: 180e3, 1: 140e3})  # idle: two threads are faster
    tuner = ThreadTuner(machine.set_threads, candidates(2), clock=machine.clock)
    machine.run(tuner, 100000)
    assert share(machine.log[2000:], 2) > 0.95
    machine.rates = {2: 40e3, 1: 120e3}  # a busy process takes a core: one thread is faster
    machine.log = []
    machine.run(tuner, 100000)
    assert share(machine.log[2000:], 1) > 0.95
    machine.rates = {2: 180e3, 1: 140e3}  # the load is gone: found at the next look (~10 s)
    machine.log = []
    machine.run(tuner, 100000)
    assert share(machine.log[30000:], 2) > 0.95


def test_time_under_load_is_near_the_best_count_alone():
    machine = Simulated({2: 40e3, 1: 120e3})
    tuner = ThreadTuner(machine.set_threads, candidates(2), clock=machine.clock)
    machine.run(tuner, 30000)
    ideal = 30000 * 100 / 120e3
    assert machine.now <= ideal / 0.95  # looking at the other count costs under 5%


def test_a_short_idle_run_spends_little_time_on_the_slower_count():
    machine = Simulated({2: 180e3, 1: 140e3})
    tuner = ThreadTuner(machine.set_threads, candidates(2), clock=machine.clock)
    machine.run(tuner, 2000)  # about one second, as `rnnlm train --epochs 15`
    assert share(machine.log, 1) < 0.15


def test_sync_is_called_before_a_window_is_timed():
    machine, synced = Simulated({2: 1e3, 1: 1e3}), []
    tuner = ThreadTuner(machine.set_threads, [2, 1], sync=lambda: synced.append(machine.now), clock=machine.clock)
    machine.run(tuner, 10)
    assert synced and all(t >= 0.2 for t in synced)


def test_pins_and_candidates():
    assert pinned_threads(3, {}) == 3
    assert pinned_threads(0, {"OMP_NUM_THREADS": "2"}) == 2
    assert pinned_threads(0, {"OMP_NUM_THREADS": ""}) is None and pinned_threads(0, {}) is None
    assert candidates(1) == [1] and candidates(2) == [2, 1] and candidates(8) == [8, 7, 1]
    seen = []
    FixedThreads(seen.append, 3).step(100)
    assert seen == [3]


@pytest.mark.parametrize("threads", [1, 2])
def test_backend_threads_pinned_give_the_same_run_twice(backend, threads):
    import rnnlm
    a = rnnlm.train(backend=backend.NAME, epochs=2, num_hiddens=16, max_tokens=3000, quiet=True, threads=threads)
    b = rnnlm.train(backend=backend.NAME, epochs=2, num_hiddens=16, max_tokens=3000, quiet=True, threads=threads)
    wa, wb = a.model.weights(), b.model.weights()
    assert all((wa[k] == wb[k]).all() for k in wa)


def test_thread_control_tunes_only_where_the_count_can_change(backend):
    from rnnlm.training import threads
    from rnnlm.training.run import thread_control
    control = thread_control(backend, backend.resolve_device("cpu"))
    if not backend.TUNES_THREADS:
        assert control is None  # MXNet: fixed when it loads, one thread unless OMP_NUM_THREADS says
    elif threads.USER_OMP_NUM_THREADS:
        assert isinstance(control, FixedThreads)
    else:
        assert isinstance(control, ThreadTuner)
    pinned = thread_control(backend, backend.resolve_device("cpu"), requested=1)
    assert pinned is None if not backend.TUNES_THREADS else pinned.current == 1
