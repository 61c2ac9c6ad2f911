"""Keeping the leases of the jobs a worker process runs: a daemon thread renews them every
third of the lease, so a job stays this worker's while it works on it, and becomes the
reconciler's to queue again once the process is gone (killed, or cut off from the database)."""

import logging
import os
import threading
from collections.abc import Sequence

from shared.db import session_scope
from shared.jobs import state
from shared.models import Job

logger = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s
        self._held: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._thread_pid: int | None = None  # a forked pool child needs a thread of its own

    def hold(self, held: Sequence[Job]) -> None:
        with self._lock:
            self._held.update((job.id, job) for job in held)
            if self._thread_pid != os.getpid():
                self._thread_pid = os.getpid()
                threading.Thread(target=self._renew_forever, name="voxq-leases", daemon=True).start()

    def drop(self, held: Sequence[Job]) -> None:
        with self._lock:
            for job in held:
                self._held.pop(job.id, None)

    def _renew_forever(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.lease_s / 3):
            with self._lock:
                held = list(self._held.values())
            if not held:
                continue
            try:
                with session_scope() as session:
                    kept = state.renew(session, held, self.lease_s)
            except Exception as exc:  # the database may be down: try again next round
                logger.warning("jobs %s: could not renew their leases: %s", ", ".join(j.id for j in held), exc)
                continue
            if kept < len(held):
                logger.warning(
                    "%d of %d jobs are no longer this worker's (their lease ran out)", len(held) - kept, len(held)
                )
