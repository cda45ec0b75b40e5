"""The blocking client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from duetime.client import calls, models
from duetime.client.errors import UnreachableError, read_answer
from duetime.client.filters import DlqFilter, MessageFilter
from duetime.client.paging import every
from duetime.client.settings import bulk_body, connection, page_query

T = TypeVar("T")


class Duetime:
    """duetime's own API (messages, DLQ, schedules, flows, kill switches, keys, stats and the
    dev clock). Publish with the QStash SDKs; operate with this.

    `url` and `token` default to QSTASH_URL and QSTASH_TOKEN."""

    def __init__(
        self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0
    ) -> None:
        base_url, headers = connection(url, token)
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def __enter__(self) -> Duetime:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: calls.Call[T]) -> T:
        try:
            response = self._http.request(
                call.method, call.path, params=tuple(call.params), json=call.json
            )
        except httpx.TransportError as exc:
            raise UnreachableError(f"{self._http.base_url}: {exc or type(exc).__name__}") from exc
        return read_answer(response, call.read)

    # Messages
    def messages(
        self,
        selection: MessageFilter | None = None,
        *,
        count: int | None = None,
        cursor: str | None = None,
    ) -> models.MessagePage:
        return self._run(calls.messages(page_query(selection, count, cursor)))

    def iter_messages(self, selection: MessageFilter | None = None) -> Iterator[models.Message]:
        """Every message the filter selects, newest first, page after page."""
        return every(lambda cursor: self.messages(selection, cursor=cursor))

    def message(self, message_id: str) -> models.Message:
        return self._run(calls.message(message_id))

    def cancel_message(self, message_id: str) -> bool:
        return self._run(calls.cancel_message(message_id))

    def cancel_messages(
        self,
        ids: list[str] | None = None,
        selection: MessageFilter | None = None,
        *,
        every_pending: bool = False,
        count: int | None = None,
    ) -> int:
        """Cancel by ids or filter (at most `count` of them); every pending message only with
        `every_pending=True`. Returns how many this call cancelled."""
        return self._run(
            calls.cancel_messages(
                bulk_body(ids, selection, every_pending, "messageIds", count=count)
            )
        )

    # Dead-letter queue
    def dlq(
        self,
        selection: DlqFilter | None = None,
        *,
        count: int | None = None,
        cursor: str | None = None,
    ) -> models.DlqPage:
        return self._run(calls.dlq(page_query(selection, count, cursor)))

    def iter_dlq(self, selection: DlqFilter | None = None) -> Iterator[models.DlqMessage]:
        """Every failed message the filter selects, newest first, page after page."""
        return every(lambda cursor: self.dlq(selection, cursor=cursor))

    def dlq_message(self, dlq_id: str) -> models.DlqMessage:
        return self._run(calls.dlq_message(dlq_id))

    def retry_dlq(self, dlq_id: str) -> str:
        """Publish a failed message again; returns the new message's id."""
        return self._run(calls.retry_dlq(dlq_id))

    def delete_dlq(self, dlq_id: str) -> None:
        self._run(calls.delete_dlq(dlq_id))

    def retry_dlq_many(
        self,
        ids: list[str] | None = None,
        selection: DlqFilter | None = None,
        *,
        every: bool = False,
        count: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[str], str | None]:
        """One batch (at most `count`); the new ids, and the cursor of the next batch."""
        body = bulk_body(ids, selection, every, "dlqIds", count=count, cursor=cursor)
        return self._run(calls.retry_dlq_many(body))

    def delete_dlq_many(
        self,
        ids: list[str] | None = None,
        selection: DlqFilter | None = None,
        *,
        every: bool = False,
        count: int | None = None,
        cursor: str | None = None,
    ) -> tuple[int, str | None]:
        body = bulk_body(ids, selection, every, "dlqIds", count=count, cursor=cursor)
        return self._run(calls.delete_dlq_many(body))

    # Schedules
    def schedules(self) -> list[models.Schedule]:
        return self._run(calls.schedules())

    def schedule(self, schedule_id: str) -> models.Schedule:
        return self._run(calls.schedule(schedule_id))

    def pause_schedule(self, schedule_id: str) -> None:
        self._run(calls.pause_schedule(schedule_id, paused=True))

    def resume_schedule(self, schedule_id: str) -> None:
        self._run(calls.pause_schedule(schedule_id, paused=False))

    def delete_schedule(self, schedule_id: str) -> None:
        self._run(calls.delete_schedule(schedule_id))

    # Flows
    def start_flow(self, flow_id: str, definition: dict[str, Any]) -> models.Flow:
        return self._run(calls.start_flow(flow_id, definition))

    def flow(self, flow_id: str) -> models.Flow:
        return self._run(calls.flow(flow_id))

    def flow_log(self, flow_id: str) -> models.FlowLog:
        return self._run(calls.flow_log(flow_id))

    def replay_step(self, flow_id: str, step_id: str) -> models.StepResult:
        return self._run(calls.replay_step(flow_id, step_id))

    def set_flow_state(self, flow_id: str, token: str, *, expect: str | None = None) -> models.Flow:
        """Move the session's state token (only from `expect`, when given: else 409)."""
        return self._run(calls.set_flow_state(flow_id, token, expect))

    def cancel_flow(self, flow_id: str) -> models.Flow:
        return self._run(calls.cancel_flow(flow_id))

    # Kill switches and keys
    def kill_switches(self) -> list[models.KillSwitch]:
        return self._run(calls.kill_switches())

    def kill_switch_on(self, scope: str, *, reason: str | None = None) -> list[models.KillSwitch]:
        return self._run(calls.kill_switch(scope, on=True, reason=reason))

    def kill_switch_off(self, scope: str) -> list[models.KillSwitch]:
        return self._run(calls.kill_switch(scope, on=False, reason=None))

    def signing_keys(self) -> models.SigningKeys:
        return self._run(calls.signing_keys())

    def rotate_keys(self) -> models.SigningKeys:
        return self._run(calls.rotate_keys())

    # models.Stats and the dev server's clock
    def stats(self, window: str | None = None) -> models.Stats:
        return self._run(calls.stats(window))

    def clock(self) -> models.Clock:
        return self._run(calls.clock())

    def advance_clock(self, by: str) -> models.Travelled:
        """Move a manual clock on (`"90s"`, `"31d"`), firing what falls due on the way."""
        return self._run(calls.move_clock(advance=by))

    def set_clock(self, to: datetime) -> models.Travelled:
        return self._run(calls.move_clock(to=to))
