"""Adaptive batching: requests share a model call, on one worker thread.

A request's rows wait in a queue until the rows waiting fill a batch
(``max_rows``) or the oldest has waited ``max_wait`` seconds; then up to
``max_rows`` rows go to the worker thread as one call. While the worker is
busy, new requests pile up and leave together as the next batch, so batches
grow with the load and shrink to one request when it is quiet; a lone request
waits at most ``max_wait``. A request larger than a batch is cut into chunks
of ``max_rows`` that go in turn. Results come back to each request in order.

The event loop only parses, queues and answers; the model runs on the worker
thread (PyTorch and ONNX Runtime release the GIL while they compute).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tailorml.serve.rows import ApiError

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Chunk(Generic[T]):
    """Rows of one request that go through the model together; ``start`` is the
    first row's index in its request."""

    items: Sequence[T]
    start: int = 0


@dataclass
class Job:
    chunk: Chunk[Any]
    future: asyncio.Future[Any]
    arrived: float = field(default_factory=time.monotonic)


class Batcher:
    """Gathers requests into batches for a process function on one worker thread.

    Args:
        process: takes a batch of chunks and returns one result per chunk (a
            list of per-row results, or an Exception for that chunk alone).
        max_rows: most rows in one batch.
        max_wait: seconds the oldest waiting request may wait for others.
        max_queue_rows: rows allowed to wait; beyond it new requests get 503.
        on_batch: called with (rows, chunks) of every batch sent to the worker.
    """

    def __init__(
        self,
        process: Callable[[Sequence[Chunk[Any]]], Sequence[Any]],
        *,
        max_rows: int = 64,
        max_wait: float = 0.005,
        max_queue_rows: int = 4096,
        on_batch: Callable[[int, int], None] | None = None,
    ):
        self.process = process
        self.max_rows = max_rows
        self.max_wait = max_wait
        self.max_queue_rows = max_queue_rows
        self.on_batch = on_batch
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tailor-model")
        self.closing = False
        self.queue: deque[Job] = deque()
        self.queued_rows = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.arrived = asyncio.Event()

    async def submit(self, rows: Sequence[Any]) -> list[Any]:
        """The results for these rows, in order, once the model has run them.

        Raises:
            ApiError: 503 while shutting down or when the queue is full; or
                whatever error the process function gave for these rows.
        """
        if self.closing:
            raise ApiError(503, "the service is shutting down; retry on another instance.")
        if self.queue and self.queued_rows + len(rows) > self.max_queue_rows:
            raise ApiError(503, "the service is busy: too many rows are waiting; retry shortly.")
        self.start()
        loop = asyncio.get_running_loop()
        starts = range(0, max(len(rows), 1), self.max_rows)
        jobs = [Job(Chunk(rows[i : i + self.max_rows], i), loop.create_future()) for i in starts]
        self.queue.extend(jobs)
        self.queued_rows += len(rows)
        self.arrived.set()
        results = await asyncio.gather(*(job.future for job in jobs))
        return [row for part in results for row in part]

    async def call(self, function: Callable[..., R], *args: Any) -> R:
        """Run a function on the worker thread, between batches."""
        if self.closing:
            raise ApiError(503, "the service is shutting down; retry on another instance.")
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def start(self) -> None:
        """Start collecting on the running event loop (again, if it changed)."""
        loop = asyncio.get_running_loop()
        if self.loop is loop and self.task is not None and not self.task.done():
            return
        self.loop = loop
        self.arrived = asyncio.Event()
        self.task = loop.create_task(self.collect(), name="tailor-batcher")

    async def close(self) -> None:
        """Refuse new requests, finish the queued ones, stop the worker."""
        self.closing = True
        self.arrived.set()
        if self.task is not None and self.loop is asyncio.get_running_loop():
            await self.task
        self.executor.shutdown(wait=False)

    async def collect(self) -> None:
        """Form batches and run them, one at a time, until closed and drained."""
        while self.queue or not self.closing:
            if not self.queue:
                self.arrived.clear()
                await self.arrived.wait()
                continue
            await self.fill()
            await self.run(self.take())

    async def fill(self) -> None:
        """Wait until a batch is full or the oldest request's wait is over."""
        deadline = self.queue[0].arrived + self.max_wait
        wake = asyncio.get_running_loop().call_later(deadline - time.monotonic(), self.arrived.set)
        try:
            while self.queued_rows < self.max_rows and not self.closing:
                if time.monotonic() >= deadline:
                    return
                self.arrived.clear()
                await self.arrived.wait()
        finally:
            wake.cancel()

    def take(self) -> list[Job]:
        """The oldest jobs that fit in one batch (always at least one)."""
        jobs = [self.queue.popleft()]
        rows = len(jobs[0].chunk.items)
        while self.queue and rows + len(self.queue[0].chunk.items) <= self.max_rows:
            jobs.append(self.queue.popleft())
            rows += len(jobs[-1].chunk.items)
        self.queued_rows -= rows
        return jobs

    async def run(self, jobs: list[Job]) -> None:
        """Run one batch on the worker thread and hand each job its result."""
        chunks = [job.chunk for job in jobs]
        if self.on_batch is not None:
            self.on_batch(sum(len(c.items) for c in chunks), len(chunks))
        loop = asyncio.get_running_loop()
        try:
            results: Sequence[Any] = await loop.run_in_executor(self.executor, self.process, chunks)
        except Exception as err:  # a bug in processing: every request of the batch fails
            results = [err] * len(jobs)
        for job, result in zip(jobs, results, strict=True):
            if job.future.done():  # the client went away
                continue
            if isinstance(result, Exception):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)
