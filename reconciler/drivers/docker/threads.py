"""Engine calls run side by side on threads, without concurrent.futures: it imports
logging, 5-10 ms of every command the docker driver serves, for two helpers this small."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Background(Generic[T]):
    """`call()` on a thread of its own, started at once; result() waits for it and gives
    its value or raises its error."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="docker-call")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # given to whoever asks for the result
            self._error = exc

    def join(self) -> None:
        self._thread.join()

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when no error was


def map_threads(call: Callable[[T], R], items: Sequence[T], threads: int) -> list[R]:
    """[call(item) for item in items] on up to `threads` threads (the caller's one of
    them), in the items' order; every call runs, then the first error in that order is
    raised."""
    results: list[R | None] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)
    pending = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                at = next(pending, None)
            if at is None:
                return
            try:
                results[at] = call(items[at])
            except BaseException as exc:  # raised by the caller once all are done
                errors[at] = exc

    helpers = [threading.Thread(target=work, name="docker-map")
               for _ in range(min(threads, len(items)) - 1)]
    for helper in helpers:
        helper.start()
    try:
        work()
    finally:
        for helper in helpers:
            helper.join()
    for error in errors:
        if error is not None:
            raise error
    return results  # type: ignore[return-value]  # every slot is filled without an error
