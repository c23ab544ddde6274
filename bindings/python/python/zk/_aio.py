"""How an ``AsyncResult`` is awaited: each event loop gets one completion queue whose
eventfd the loop watches (``add_reader``); the IO threads append finished calls to it and
the loop completes their futures in batches. While the loop awaits calls of an
``AsyncClient``, it watches that client's socket itself and reads the replies on its own
thread (one thread woken per batch of replies, not an IO thread and then the loop). The
calls that the tasks woken by one batch make are written together, by the loop's thread:
completing a batch opens a write batch, and ``_settle``, queued behind those tasks, closes
it and gives back the sockets of clients no task awaits any more."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Callable, Optional, Tuple

from zk import _zk

_completions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _zk.Completions]" = (
    weakref.WeakKeyDictionary()
)
# The loop used last and its queue: most programs run one loop, and this skips the
# dictionary (which makes a weak reference per lookup) on every call.
_last: "Tuple[Callable[[], Optional[asyncio.AbstractEventLoop]], Optional[_zk.Completions]]" = (
    lambda: None,
    None,
)
_running_loop = asyncio.get_running_loop
_end_write_batch = _zk._end_write_batch


def completions_for(loop: asyncio.AbstractEventLoop) -> _zk.Completions:
    """The completion queue of ``loop`` (made and watched on first use)."""
    global _last
    ref, queue = _last
    if queue is not None and ref() is loop:
        return queue
    # A batch left open by a loop that stopped before closing it must not hold back the
    # calls of this one.
    _end_write_batch()
    queue = _completions.get(loop)
    if queue is None:
        queue = _zk.Completions(loop, _readable)
        loop.add_reader(queue.fileno(), _drain, queue, loop)
        _completions[loop] = queue
    _last = (weakref.ref(loop), queue)
    return queue


def _drain(queue: _zk.Completions, loop: asyncio.AbstractEventLoop) -> None:
    if queue.drain():
        # Runs after the tasks the completed futures wake, which were queued first.
        loop.call_soon(queue._settle)


def _readable(queue: _zk.Completions, loop: asyncio.AbstractEventLoop, client: int) -> None:
    if queue.readable(client):
        loop.call_soon(queue._settle)


async def wait_result(result: _zk.AsyncResult, lender: Optional[_zk.Client] = None) -> Any:
    """Awaits ``result`` without blocking the loop; ``lender`` is the call's client, whose
    socket the loop then reads. Cancelling the awaiting task cancels the call (a write may
    still be applied by the server)."""
    loop = _running_loop()
    future = loop.create_future()
    result._notify(completions_for(loop), future, lender)
    try:
        return await future
    except asyncio.CancelledError:
        result.cancel()
        raise
