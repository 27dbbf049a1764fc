"""Graceful stop on SIGINT/SIGTERM: finish the current step, checkpoint, return."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

__all__ = ["GracefulStop"]

logger = logging.getLogger(__name__)


class GracefulStop:
    """Context manager turning SIGINT/SIGTERM into a stop request, restoring handlers on exit.

    The first signal only sets :attr:`requested`; the loop checks it after each step, writes a
    checkpoint and returns. A second signal raises ``KeyboardInterrupt`` at once. Outside the
    main thread (where Python cannot install handlers) only :meth:`request` works.

    Attributes:
        requested: True once a signal arrived or :meth:`request` was called.
        signal: The number of the first signal (``None`` when none arrived).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def request(self) -> None:
        """Ask for a stop without a signal."""
        self.requested = True

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler.

        Raises:
            KeyboardInterrupt: On the second signal.
        """
        del frame
        if self.requested:
            raise KeyboardInterrupt(f"second signal {signum}: aborting without a checkpoint")
        logger.warning(
            "received %s: finishing the current step and writing a checkpoint (send it again "
            "to abort)",
            signal.Signals(signum).name,
        )
        self.requested = True
        self.signal = signum

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is not threading.main_thread():
            logger.debug("not in the main thread: SIGINT/SIGTERM handlers not installed")
            return self
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self.handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
