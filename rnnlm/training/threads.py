"""How many threads a run computes with, chosen by measuring.

On an idle machine every core helps; beside another busy process, threads that must meet
at the end of every small parallel operation wait for the one the OS has descheduled, and
two threads run slower than one. The load changes while a run goes on, so `ThreadTuner`
times short windows of minibatches and keeps whichever thread count is faster now,
re-trying the others every few windows. Changing the thread count changes the last bits
of float sums, so a run that must be bitwise repeatable pins the count (`--threads N`,
or OMP_NUM_THREADS as a launcher sets it).
"""

import os
import time

# the user's own OMP_NUM_THREADS, read before any backend may set a default of its own
USER_OMP_NUM_THREADS = os.environ.get("OMP_NUM_THREADS", "")

WINDOW_SECONDS = 0.2    # one measurement: long enough to average over minibatches
EXPLORE_SECONDS = 0.1   # a look at another count: short, it is likely the slower one
EXPLORE_EVERY = 50      # windows between looks while nothing changes (~10 s)
SLOWDOWN = 0.75         # a window this much slower than the count's best: the load changed


def available_cores():
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def pinned_threads(requested=0, environ=None):
    """The thread count to keep fixed, or None to tune: `requested` (--threads) if above 0,
    else OMP_NUM_THREADS when the user or a launcher set it."""
    if requested:
        return requested
    value = USER_OMP_NUM_THREADS if environ is None else environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def candidates(cores):
    """Thread counts worth trying, most first: all cores, all but one, one."""
    return sorted({cores, max(1, cores - 1), 1}, reverse=True)


class ThreadTuner:
    """Keeps the faster thread count by timing windows of minibatches.

    After a warm-up window, and again whenever the current count slows down sharply or
    every EXPLORE_EVERY windows, each other count gets one short window; the fastest of
    that round is kept. `set_threads(n)` applies a count; `sync()` waits for queued work
    (asynchronous engines), so a window's time is its own. Call `step(tokens)` after
    every minibatch.
    """

    def __init__(self, set_threads, choices, sync=None, clock=time.perf_counter,
                 window_seconds=WINDOW_SECONDS, explore_seconds=EXPLORE_SECONDS,
                 explore_every=EXPLORE_EVERY):
        self.set_threads, self.choices, self.sync, self.clock = set_threads, list(choices), sync, clock
        self.window_seconds, self.explore_seconds = window_seconds, explore_seconds
        self.explore_every = explore_every
        self.current = self.choices[0]
        self.rates = {}            # thread count -> tokens/s of its latest window
        self.best = 0.0            # the current count's best window since it was chosen
        self.since_round = None    # windows since the last round; None: still warming up
        self.trying = []           # counts still to look at in this round
        self.set_threads(self.current)
        self._open()

    def _open(self):
        self.tokens, self.started = 0, self.clock()

    def _switch(self, n):
        if n != self.current:
            self.current = n
            self.set_threads(n)

    def step(self, tokens):
        self.tokens += tokens
        limit = self.explore_seconds if self.trying else self.window_seconds
        if self.clock() - self.started < limit:
            return
        if self.sync is not None:
            self.sync()
        rate = self.tokens / max(self.clock() - self.started, 1e-9)
        if self.since_round is None:          # the warm-up window (allocations, caches)
            self.since_round = self.explore_every
        else:
            self.rates[self.current] = rate
            self._decide(rate)
        self._open()

    def _decide(self, rate):
        if self.trying:                        # in a round: look at the next, or choose
            self.trying.pop(0)
            if self.trying:
                self._switch(self.trying[0])
                return
            self._switch(max(self.choices, key=lambda n: self.rates.get(n, 0.0)))
            self.best, self.since_round = self.rates[self.current], 0
            return
        self.best = max(self.best, rate)
        self.since_round = (self.since_round or 0) + 1
        if self.since_round >= self.explore_every or rate < SLOWDOWN * self.best:
            self.trying = [n for n in self.choices if n != self.current]
            self.rates[self.current] = rate
            self._switch(self.trying[0])
class FixedThreads:
    """The same interface with the count held still."""

    def __init__(self, set_threads, threads):
        self.current = threads
        set_threads(threads)

    def step(self, tokens):
        pass
