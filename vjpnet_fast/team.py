"""Helper threads that sleep between calls, for the per-image conv kernels.

    team.run(task, threads)     posts task(1) ... task(threads - 1) to helper threads, then
                                calls task(0) on the calling thread and returns its result.

The tasks must be written so that task(0) alone finishes the job and waits for the work the
helpers took on (vjpnet_fast._conv_images: the threads claim images through a shared atomic
counter, and the first thread waits until every claimed image is done). So `run` never waits
for a helper that has not started: a helper the OS delays (another process, or OpenBLAS's
threads spinning after a NumPy GEMM, on the same core) just claims fewer images or none, and
returns at once when it does get to run. Helper exceptions are dropped: the helpers run the
same call, with the same arguments, as task(0), which raises the same error.

Why not OpenMP: an OpenMP team (libgomp) spins for milliseconds after each parallel region and
waits at a barrier for all its threads; on 2 cores that spinning stole a core from the NumPy
GEMMs that ran next (measured: 6 -> 11 ms), and the barrier made a conv wait for a thread that
OpenBLAS's spinning threads kept off the CPU. The helpers here wait on a queue (a futex: no
spinning), and each task moves its helper off the caller's current CPU (`_avoid_cpu`). They
are created on first use, as daemon threads; after a fork they are re-created.
"""
import os
import queue
import threading

from vjpnet_fast._conv_images import current_cpu


class Team:
    """Helper threads for `run` (see the module docstring)."""

    def __init__(self):
        self.inboxes = []            # one SimpleQueue of tasks per helper
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.caller_cpu = -1         # the CPU the caller of the latest `run` was on

    def _helper(self, inbox, slot):
        try:
            allowed = os.sched_getaffinity(0)
        except (AttributeError, OSError):
            allowed = None
        while True:
            task = inbox.get()
            self._avoid_cpu(allowed, self.caller_cpu)
            try:
                task(slot)
            except BaseException:    # noqa: BLE001 - task(0) raises the same error
                pass
            del task                 # do not keep the call's arrays alive while idle

    @staticmethod
    def _avoid_cpu(allowed, cpu):
        """Move this helper off the caller's CPU, if another CPU is allowed: woken by the
        caller, the OS often queued it on the caller's CPU (measured on the 2-core VM after an
        idle moment: both threads then shared one core, and a seed conv took 6-7 ms instead
        of 2.8 ms for several calls in a row)."""
        if allowed is None or cpu < 0 or cpu not in allowed or len(allowed) < 2:
            return
        try:
            os.sched_setaffinity(0, allowed - {cpu})
        except OSError:
            pass

    def _ensure_helpers(self, count):
        with self.lock:
            if self.pid != os.getpid():              # forked: the helpers did not come along
                self.inboxes, self.pid = [], os.getpid()
            while len(self.inboxes) < count:
                inbox = queue.SimpleQueue()
                slot = len(self.inboxes) + 1
                threading.Thread(target=self._helper, args=(inbox, slot),
                                 name=f"vjpnet_fast-team-{slot}", daemon=True).start()
                self.inboxes.append(inbox)

    def run(self, task, threads):
        """Post task(1) ... task(threads - 1) to the helpers, then return task(0)."""
        if threads > 1:
            self._ensure_helpers(threads - 1)
            self.caller_cpu = current_cpu()
            for inbox in self.inboxes[:threads - 1]:
                inbox.put(task)
        return task(0)


team = Team()
