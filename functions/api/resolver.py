"""Powertools' HTTP API resolver, safe to call from many threads at once.

Powertools keeps the request being resolved on the class (`BaseRouter.current_event`,
`lambda_context`) and in one dict per app (`context`, which carries the route arguments). One
Lambda environment resolves one request at a time, so that is fine there; the dev server
serves requests concurrently from one app, where two requests would read each other's route
arguments. This subclass keeps all of it per thread, and builds every route's middleware
stack up front (Powertools builds it lazily, on first call, which is another race).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
    from aws_lambda_powertools.utilities.typing import LambdaContext


class ConcurrentHttpResolver(APIGatewayHttpResolver):
    _request = threading.local()

    @property  # type: ignore[override]
    def current_event(self) -> BaseProxyEvent:
        event: BaseProxyEvent = self._request.event
        return event

    @current_event.setter
    def current_event(self, value: BaseProxyEvent) -> None:
        self._request.event = value

    @property
    def lambda_context(self) -> LambdaContext:
        context: LambdaContext = self._request.lambda_context
        return context

    @lambda_context.setter
    def lambda_context(self, value: LambdaContext) -> None:
        self._request.lambda_context = value

    @property
    def context(self) -> dict[str, Any]:
        if not hasattr(self._request, "context"):
            self._request.context = {}
        routing: dict[str, Any] = self._request.context
        return routing

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._request.context = value

    @property
    def processed_stack_frames(self) -> list[str]:
        if not hasattr(self._request, "frames"):
            self._request.frames = []
        frames: list[str] = self._request.frames
        return frames

    @processed_stack_frames.setter
    def processed_stack_frames(self, value: list[str]) -> None:
        self._request.frames = value

    def prepare(self) -> None:
        """Build every route's middleware stack now, while only one thread runs."""
        for route in (*self._static_routes, *self._dynamic_routes):
            if not route._middleware_stack_built:
                route._build_middleware_stack(router_middlewares=self._router_middlewares, app=self)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.current_event = self._to_proxy_event(dict(event))
        self.lambda_context = context
        response: dict[str, Any] = super().resolve(event, context)
        return response
