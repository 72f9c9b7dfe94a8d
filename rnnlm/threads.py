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

WINDOW_SECONDS = 0.2    # one measurement: long enough to average over minibatches
EXPLORE_EVERY = 10      # windows between re-trying the other thread counts


def available_cores():
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def pinned_threads(requested=0, environ=None):
    """The thread count to keep fixed, or None to tune: `requested` (--threads) if above 0,
    else OMP_NUM_THREADS when set (a launcher sharing the cores out, or the user)."""
    environ = os.environ if environ is None else environ
    if requested:
        return requested
    value = environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def candidates(cores):
    """Thread counts worth trying, most first: all cores, all but one, one."""
    return sorted({cores, max(1, cores - 1), 1}, reverse=True)


class ThreadTuner:
    """Keeps the faster thread count by timing windows of minibatches.

    `set_threads(n)` applies a count; `sync()` waits for queued work (asynchronous
    engines), so a window's time is its own. Call `step(tokens)` after every minibatch.
    """

    def __init__(self, set_threads, choices, sync=None, clock=time.perf_counter,
                 window_seconds=WINDOW_SECONDS, explore_every=EXPLORE_EVERY):
        self.set_threads, self.choices, self.sync, self.clock = set_threads, list(choices), sync, clock
        self.window_seconds, self.explore_every = window_seconds, explore_every
        self.current = self.choices[0]
        self.rates = {}            # thread count -> tokens/s of its latest window
        self.windows = 0
        self.trying = []           # counts still to try in this exploration round
        self.set_threads(self.current)
        self._open()

    def _open(self):
        self.tokens, self.started = 0, self.clock()

    def step(self, tokens):
        self.tokens += tokens
        if self.clock() - self.started < self.window_seconds:
            return
        if self.sync is not None:
            self.sync()
        self.rates[self.current] = self.tokens / max(self.clock() - self.started, 1e-9)
        self.windows += 1
        if not self.trying and self.windows % self.explore_every == 1:
            self.trying = [n for n in self.choices if n != self.current]  # a fresh look at the others
        if self.trying:
            nxt = self.trying.pop(0)
        else:  # the round is over: keep the fastest seen in it
            nxt = max(self.choices, key=lambda n: self.rates.get(n, 0.0))
        if nxt != self.current:
            self.current = nxt
            self.set_threads(nxt)
        self._open()


class FixedThreads:
    """The same interface with the count held still."""

    def __init__(self, set_threads, threads):
        self.current = threads
        set_threads(threads)

    def step(self, tokens):
        pass
