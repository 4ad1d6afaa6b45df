"""A tiny typed in-process event bus (A11): publishers do not know their subscribers.

Handlers run after the publisher's transaction committed, in the publisher's task. A failing
handler is logged and does not fail the publisher or the other handlers.
"""

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of domain events; subclasses are frozen dataclasses carrying IDs, not ORM rows."""


type Handler[E: Event] = Callable[[E], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: defaultdict[type[Event], list[Handler[Any]]] = defaultdict(list)

    def subscribe[E: Event](self, event_type: type[E], handler: Handler[E]) -> None:
        self._handlers[event_type].append(handler)

    async def publish(self, event: Event) -> None:
        for handler in self._handlers.get(type(event), ()):
            try:
                await handler(event)
            except Exception:
                # A subscriber's failure is its own: the publisher's work has already committed.
                logger.exception("event_handler_failed", event_type=type(event).__name__)
