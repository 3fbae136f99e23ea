"""Reading an upload off the event loop: a workbook is parsed in a child process with a time and a memory limit.

openpyxl on hostile XML can run for seconds (millions of nested runs, nearly a million shared strings) and hold
the event loop all that time; a thread would not help, for it can be neither killed nor capped. A child process
can be both: a small pool of them is kept warm (the common upload then pays only for handing the body over and
the rows back), its workers run under RLIMIT_AS, and a pool whose worker overran is killed and replaced.
JSON and CSV stay in the request: their parse is linear and bounded by the body cap.
"""

import asyncio
import contextlib
import multiprocessing
import resource
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from app.domain.payload import RawRow, media_type
from app.domain.workbook import XLSX, parse_upload
from app.errors import PayloadTooLarge, ServiceUnavailable, Unprocessable
from app.i18n import _

# Imported once by the fork server, so a replacement worker starts in milliseconds rather than re-importing.
_PRELOAD = ["app.domain.workbook"]
# A parse that lost its worker because another upload's overrun recycled the pool is tried again this often.
_RETRIES = 3


class _OutOfMemory(Exception):
    """The child hit its RLIMIT_AS (raised in the child, where MemoryError itself is caught)."""


def _limit(memory_bytes: int) -> None:
    """Worker start: cap the address space at what the worker already maps plus the parse budget."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which then stops its workers
    mapped = 0
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                mapped = int(line.split()[1]) * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = mapped + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _ready() -> None:
    """Nothing: run once by a new pool so that starting its workers is not counted against a parse's time."""


def _parse(body: bytes, content_type: str, max_values: int, max_uncompressed: int) -> list[RawRow]:
    try:
        return parse_upload(body, content_type, max_values=max_values, max_uncompressed=max_uncompressed)
    except MemoryError:
        raise _OutOfMemory() from None


class UploadParser:
    """The rows of an upload; workbooks through the pool (one per app, started lazily, closed by the lifespan)."""

    def __init__(self, *, workers: int, seconds: float, memory_bytes: int) -> None:
        self.workers, self.seconds, self.memory_bytes = workers, seconds, memory_bytes
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future[None] = Future()
        # As many parses at once as there are workers: a queued upload's clock starts when a worker takes it.
        self._slots = asyncio.Semaphore(workers)

    async def parse(self, body: bytes, content_type: str, *, max_values: int, max_uncompressed: int) -> list[RawRow]:
        """Rows of the body; a workbook that overruns the time or memory limit is a 422 / 413 problem."""
        if media_type(content_type)[0] != XLSX:
            return parse_upload(body, content_type, max_values=max_values, max_uncompressed=max_uncompressed)
        async with self._slots:
            for _attempt in range(_RETRIES):
                pool, started = self._executor()
                try:
                    # The first upload after a start or a recycle waits for the workers (the fork server's first
                    # start imports openpyxl: about a second); only the parse itself runs against the clock.
                    # Shielded: a client leaving must not cancel the start other uploads wait for.
                    await asyncio.shield(asyncio.wrap_future(started))
                    future = pool.submit(_parse, body, content_type, max_values, max_uncompressed)
                except BrokenProcessPool:
                    self._recycle(pool)  # a pool that could not start, or was just killed: the next try makes one
                    continue
                try:
                    return await asyncio.wait_for(asyncio.wrap_future(future), self.seconds)
                except TimeoutError:
                    self._recycle(pool)
                    raise Unprocessable(_("The workbook took more than {seconds} s to read; save it again as a "
                                          "plain .xlsx or split it.", seconds=f"{self.seconds:g}"),
                                        code="workbook_too_slow") from None
                except asyncio.CancelledError:
                    if not future.done():
                        self._recycle(pool)  # the client left: its parse must not keep a worker busy
                    raise
                except _OutOfMemory:
                    raise self._too_large() from None
                except BrokenProcessPool:
                    if self._pool is pool:  # this parse's worker died on its own (killed by the kernel, crashed)
                        self._recycle(pool)
                        raise self._too_large() from None
                    # else another upload's overrun recycled the pool under this one: try again
            raise ServiceUnavailable(_("Workbooks cannot be read just now; send it again in a moment."),
                                     code="workbook_busy")

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(_("Reading the workbook needs more than {mib} MiB; save it again as a plain .xlsx "
                                 "or split it.", mib=self.memory_bytes >> 20), code="workbook_too_large")

    def _executor(self) -> tuple[ProcessPoolExecutor, Future[None]]:
        """The pool, and the future of its start."""
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_limit,
                                             initargs=(self.memory_bytes,))
            self._started = self._pool.submit(_ready)
        return self._pool, self._started

    def _recycle(self, pool: ProcessPoolExecutor) -> None:
        """Kill a pool whose worker must stop (a thread cannot be stopped, a process can); the next parse starts
        a new one. Uploads in flight on it see BrokenProcessPool and are tried again."""
        if self._pool is pool:
            self._pool = None
        # The executor has no public way to reach its workers; killing them is the point of using processes.
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(ProcessLookupError, OSError):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (at shutdown)."""
        if self._pool is not None:
            self._recycle(self._pool)
