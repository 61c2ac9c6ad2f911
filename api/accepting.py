"""Where the API accepts batches: a pool of processes of its own (VOXQ_ACCEPT_PROCESSES), so a
10,000-line upload being parsed and stored never holds the interpreter lock that the live
requests of the serving process need; 0 accepts on the API's own threads (the in-process app
of the tests).

They run at a lower CPU priority: on a machine with few cores, a batch being accepted waits for
the live lines rather than the other way round. The processes are spawned, not forked: a fork of the API would inherit its threads' locks and
its open database and Redis connections. They read the same environment, so the same settings.
A process that dies (killed, out of memory) breaks the pool: that one request is answered 503,
and the pool is made again for the next.
"""

import asyncio
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from fastapi.concurrency import run_in_threadpool

from shared.errors import EngineUnavailable
from shared.jobs.accept import BatchForm, accept, warm, yield_to_live_work

logger = logging.getLogger(__name__)


class Acceptor:
    """Accepts batches in `processes` spawned processes, or on the API's threads if 0."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the processes now rather than at the first batch (a spawn takes a second or two)."""
        if self.processes:
            for _ in range(self.processes):
                self._executor().submit(warm)

    async def accept(self, form: BatchForm) -> str:
        """The new batch's id; the errors `accept` raises, as it raised them."""
        if not self.processes:
            return await run_in_threadpool(accept, form)
        pool = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, accept, form)
        except BrokenProcessPool:
            self._replace(pool)
            raise EngineUnavailable("the process accepting this batch stopped before it answered; try again") from None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=yield_to_live_work
                )
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                logger.error("the batch acceptance pool broke (a process died); starting another")
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)
