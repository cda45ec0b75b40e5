"""A counted cost model: every AWS request duetime makes per delivered message, priced.

    .venv/bin/python -m bench.cost [--messages N] [--per-month M] [--destination-ms MS]
        [--due-now invoke|queue]

The real handlers run on moto in process (mock_aws), against a real HTTP receiver on
127.0.0.1, under a virtual clock: SQS delays and visibility (moto's own clock is replaced by
it), the handlers' clocks, the secrets cache and the EventBridge Scheduler emulation all read
the same hand-moved time, so an hour-long delay costs no wall time. What AWS does around the
functions is emulated and counted as AWS would bill it:

- the front door: one API Gateway HTTP API request per API call (none with a function URL);
- Lambda's asynchronous Invoke, which the API function uses for a delivery due now: the
  event becomes one `dispatch` invocation (billed as that invocation, no request on top);
- the Lambda SQS event source mapping (ESM): one ReceiveMessage per batch (batch size from
  infra/) and one DeleteMessageBatch for the records that succeeded; idle long polling is a
  fixed monthly cost, stated as an assumption and not counted per message;
- EventBridge Scheduler: a one-time schedule fires at its `at(...)` time as one invocation
  that sends its input to the target queue (SendMessage, billed by SQS) or, for the API's
  far-off timers, invokes `dispatch` with it asynchronously (the invocation billed, no queue
  request), then deletes itself (ActionAfterCompletion=DELETE, no API call); the recovery
  clock's rate(1 minute) invokes `recover` (one Scheduler invocation and one Lambda
  invocation per minute: a fixed cost).

Every AWS request is counted from botocore's event hooks, registered on every client any
botocore session creates (boto3's, pynamodb's and Powertools' alike), per service and
operation, and for DynamoDB with its read and write request units, index writes included
(computed from item sizes and the table's GSI definitions when moto cannot report them; the
output says which). Lambda duration is modelled from the CPU time measured outside AWS and
HTTP calls, scaled to Lambda's vCPU share, plus stated per-call latencies; the memory size,
architecture, SQS batch size and recovery rate are read from infra/. Cache refreshes (kill
switches, secrets) are driven by time, not messages: they are priced at their steady state at
the modelled load (CacheModel), from the lookups counted per invocation.

Scenarios are first measured one by one (per delivered message), then the mix runs on one
timeline: 35 % immediate, 35 % delayed up to 15 minutes, 20 % due 16 minutes to 2 hours
later, 10 % answered 500 once and retried, a schedule firing every minute while messages are
published and one 4-step flow. Prices: docs/cost.md. The last line printed is one JSON
object for the cheapest front door; the full results go to bench/results/cost.json.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import functools
import heapq
import io
import json
import logging
import math
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import botocore.session
import httpx
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws

from functions import wiring
from functions.adapters.aws import aws_adapters, clients
from functions.adapters.aws.schema import table_definition
from functions.config import Settings
from functions.domain import timeouts
from functions.handlers import dispatch, recover, schedule, step
from functions.local import moto_atomic
from functions.local.defaults import DEV_SIGNING_KEYS, DEV_TOKEN
from functions.local.lambda_context import LocalContext
from functions.local.pump import EVENTBRIDGE_JITTER_SECONDS, parse_at_expression, sqs_event
from functions.local.resources import (
    ACCOUNT,
    DISPATCH_FUNCTION,
    DISPATCH_FUNCTION_ARN,
    REGION,
    LocalResources,
    fake_credentials,
    provision,
)
from functions.observability import logger as duetime_logger
from functions.services.transport import LazyTransport
from tests.helpers.events import http_event
from tests.helpers.receiver import Received, Receiver, Reply

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PRICES_AS_OF = "2026-12"
SECONDS_PER_MONTH = 30 * 86400

# --- prices (us-east-1 list prices; sources and date in docs/cost.md) -----------------------


@dataclass(frozen=True)
class Prices:
    api_gateway_http_request: float = 1.00 / 1e6
    lambda_request: float = 0.20 / 1e6
    lambda_gb_second_arm64: float = 0.0000133334
    lambda_gb_second_x86_64: float = 0.0000166667
    sqs_request: float = 0.40 / 1e6  # standard queue, per 64 KB chunk
    dynamodb_wru: float = 0.625 / 1e6  # on-demand write request unit
    dynamodb_rru: float = 0.125 / 1e6  # on-demand read request unit
    scheduler_invocation: float = 1.00 / 1e6
    secrets_api_call: float = 0.05 / 10_000
    secret_per_month: float = 0.40
    logs_ingested_gb: float = 0.50
    qstash_message: float = 1.00 / 100_000


PRICES = Prices()

# --- what infra/ deploys (read from its source, so the model follows it) --------------------


@dataclass(frozen=True)
class InfraFacts:
    memory_mb: int
    architecture: str
    sqs_batch_size: int
    batching_window_s: int
    recovery_rate_minutes: int
    secrets: int

    @property
    def gb_second_price(self) -> float:
        if self.architecture == "arm64":
            return PRICES.lambda_gb_second_arm64
        return PRICES.lambda_gb_second_x86_64


def _find(path: Path, pattern: str) -> str:
    match = re.search(pattern, path.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"bench.cost: {pattern!r} not found in {path}; update the bench")
    return match.group(1)


def infra_facts() -> InfraFacts:
    functions_py = ROOT / "infra" / "functions.py"
    return InfraFacts(
        memory_mb=int(_find(ROOT / "infra" / "config.py", r"memory_size_mb: int = (\d+)")),
        architecture="arm64" if "Architecture.ARM_64" in functions_py.read_text() else "x86_64",
        # infra/functions.py takes it from the domain's timeouts: read the same constant.
        sqs_batch_size=timeouts.DISPATCH_BATCH_SIZE,
        batching_window_s=int(
            _find(functions_py, r"max_batching_window=Duration\.seconds\((\d+)\)")
        ),
        recovery_rate_minutes=int(
            _find(ROOT / "infra" / "timers.py", r'RECOVERY_RATE = "rate\((\d+) minutes?\)"')
        ),
        secrets=len(
            re.findall(r"secretsmanager\.Secret\(", (ROOT / "infra" / "secrets.py").read_text())
        ),
    )


# --- the duration model (assumptions, printed with the results) -----------------------------

# Lambda gives a function memory/1769 of a vCPU; Python runs on one core, so local compute
# measured here is scaled by that share (this machine's core taken as equal to a Graviton one).
FULL_VCPU_MB = 1769
# p50 latency of one call from a Lambda in the same region (an assumption, not measured here).
CALL_MS = {
    "dynamodb": 5.0,
    "sqs": 10.0,
    "scheduler": 25.0,
    "secretsmanager": 25.0,
    "lambda": 15.0,  # an asynchronous Invoke: queued and answered 202
}
TRANSACTION_MS = 10.0
# START, END and REPORT lines Lambda writes for every invocation (bytes, approximate).
PLATFORM_LOG_BYTES = 330
# ESM idle long polling (assumption): 5 pollers x one 20 s ReceiveMessage each, per queue.
IDLE_RECEIVES_PER_QUEUE_PER_MINUTE = 15
# The recovery clock ticks every minute; the mix samples one tick in 15 (a tick costs the same
# whatever the load, and moto's index queries are slow), and the month is priced per tick.
RECOVERY_SAMPLE_EVERY = timedelta(minutes=15)
BURST = 50
BURST_GAP_MS = 100


# --- the virtual clock ------------------------------------------------------------------------


class VirtualClock:
    """The time everything in the run reads; moved by hand (and by the dispatcher's waits)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return self._now

    def ms(self) -> float:
        return self._now.timestamp() * 1000

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = max(self._now, when)

    def sleep(self, seconds: float) -> None:
        """What a handler waits out (the sub-second remainder of a timer): virtual time."""
        self.set(self._now + timedelta(seconds=max(0.0, seconds)))


def virtualise_time(clock: VirtualClock) -> None:
    """Point moto's SQS clock and the secrets cache at the virtual clock."""
    import moto.sqs.models as sqs_models  # noqa: PLC0415 - patched here, once

    from functions.adapters.aws import secrets  # noqa: PLC0415

    setattr(sqs_models, "unix_time_millis", clock.ms)  # noqa: B010
    setattr(sqs_models, "unix_time", lambda: clock.ms() / 1000)  # noqa: B010
    message = sqs_models.Message
    setattr(message, "visible", property(lambda m: clock.ms() > m.visible_at))  # noqa: B010
    setattr(message, "delayed", property(lambda m: clock.ms() < m.delayed_until))  # noqa: B010

    setattr(secrets, "monotonic", lambda: clock().timestamp())  # noqa: B010


# --- DynamoDB capacity: item sizes and index writes --------------------------------------------


def _blob(value: Any) -> bytes:
    return bytes(value) if isinstance(value, bytes | bytearray) else base64.b64decode(value)


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return 1 + math.ceil(max(1, len(digits)) / 2)


_SIZES: dict[str, Callable[[Any], int]] = {
    "S": lambda v: len(str(v).encode()),
    "N": lambda v: _number_size(str(v)),
    "B": lambda v: len(_blob(v)),
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
    # A list or map: 3 bytes, plus 1 byte per element (and a map element's name).
    "L": lambda v: 3 + sum(1 + value_size(e) for e in v),
    "M": lambda v: 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in v.items()),
    "SS": lambda v: sum(len(str(e).encode()) for e in v),
    "NS": lambda v: sum(_number_size(str(e)) for e in v),
    "BS": lambda v: sum(len(_blob(e)) for e in v),
}


def value_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (Developer Guide, item sizes)."""
    ((kind, inner),) = value.items()
    return _SIZES[kind](inner)


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, *, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


TABLE = table_definition("duetime-table")
KEY_ATTRS = tuple(k["AttributeName"] for k in TABLE["KeySchema"])
GSIS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (g["IndexName"], tuple(k["AttributeName"] for k in g["KeySchema"]))
    for g in TABLE["GlobalSecondaryIndexes"]
)
# A KEYS_ONLY index entry: its keys, the table's keys and 100 bytes of overhead.
INDEX_ENTRY_OVERHEAD = 100


def _index_key(item: dict[str, Any] | None, attrs: tuple[str, ...]) -> tuple[str, ...] | None:
    if not item or any(a not in item for a in attrs):
        return None  # sparse: no entry
    return tuple(json.dumps(item[a], sort_keys=True, default=str) for a in attrs)


def _entry_units(item: dict[str, Any], attrs: tuple[str, ...]) -> int:
    keys = {a: item[a] for a in (*attrs, *KEY_ATTRS) if a in item}
    return write_units(item_size(keys) + INDEX_ENTRY_OVERHEAD)


def index_writes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> float:
    """Index write units of one item change: an entry appearing or leaving costs one write,
    a changed key two (delete + put); an unchanged key of a KEYS_ONLY index costs nothing."""
    units = 0.0
    for _, attrs in GSIS:
        old, new = _index_key(before, attrs), _index_key(after, attrs)
        if old == new:
            continue
        if old is not None and before is not None:
            units += _entry_units(before, attrs)
        if new is not None and after is not None:
            units += _entry_units(after, attrs)
    return units


def _kind_of(key: dict[str, Any] | None) -> str:
    """The item kind of a key: MSG, DEDUP, SCHED, FLOW, STEP, IDEM or KILL."""
    if not key or "pk" not in key:
        return "?"
    sk = str(next(iter(key.get("sk", {}).values()), ""))
    if sk.startswith("STEP#"):
        return "STEP"
    return str(next(iter(key["pk"].values()))).split("#", 1)[0]


# What a duetime UpdateItem does, from the first attribute set it names (for the breakdown).
_PURPOSES: dict[str, tuple[tuple[frozenset[str], str], ...]] = {
    "MSG": (
        (frozenset({"events", "retried"}), "record"),
        (frozenset({"events"}), "cancel"),
        (frozenset({"lease_token"}), "claim"),
    ),
    "STEP": (
        (frozenset({"armed_at"}), "arm"),
        (frozenset({"attempts"}), "claim"),
        (frozenset({"last_status"}), "record"),
        (frozenset({"reason"}), "mark"),
    ),
    "FLOW": (
        (frozenset({"advanced_through"}), "advance"),
        (frozenset({"status"}), "status"),
        (frozenset({"state_token"}), "set state"),
    ),
    "SCHED": ((frozenset({"last_fire"}), "fire"), (frozenset({"paused"}), "pause")),
}


def _update_purpose(kind: str, names: set[str]) -> str:
    if kind == "STEP" and names <= {"wake_shard", "wake_at"}:
        return "leave wake index"
    for needed, purpose in _PURPOSES.get(kind, ()):
        if needed <= names:
            return purpose
    return "update"


def _purpose(action: str, body: dict[str, Any]) -> str:
    kind = _kind_of(body.get("Key") or body.get("Item"))
    if action == "Update":
        names = set(body.get("ExpressionAttributeNames", {}).values())
        return f"{kind} {_update_purpose(kind, names)}"
    return kind


# --- counting every AWS request -----------------------------------------------------------------


@dataclass
class Row:
    count: float = 0.0
    wru_table: float = 0.0
    wru_index: float = 0.0
    rru: float = 0.0
    gb_seconds: float = 0.0
    billed_ms: float = 0.0
    wall_ms: float = 0.0
    local_ms: float = 0.0
    log_bytes: float = 0.0

    def add(self, other: Row, sign: float = 1.0) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + sign * getattr(other, f.name))


# (kind, service, operation, detail); kind: message | cache | fixed | unbilled
Key = tuple[str, str, str, str]
Usage = dict[Key, Row]
SERVICE_NAMES = {
    "dynamodb": "DynamoDB",
    "sqs": "SQS",
    "scheduler": "EventBridge Scheduler",
    "secretsmanager": "Secrets Manager",
}
_WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
_UNBILLED = {"CreateSchedule", "DeleteSchedule", "GetSchedule", "ListSchedules"}
KILL_SWITCHES = "kill switches"
SIGNING_KEYS = "signing keys"
BEARER_CACHE = "API token"
SECRETS = "secret"


@dataclass
class Invocation:
    function: str
    aws_seconds: float = 0.0  # CPU seconds, as http_seconds
    modelled_call_ms: float = 0.0
    http_seconds: float = 0.0
    http_calls: int = 0
    caches: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Target:
    action: str  # Put | Update | Delete | ConditionCheck
    table: str
    key: dict[str, Any]
    item: dict[str, Any] | None
    purpose: str


class Meter:
    """Counts what each actor makes AWS do. Actors: the four functions, `esm` (Lambda's SQS
    poller), `scheduler` (EventBridge Scheduler) and `bench` (setup and checks: not counted)."""

    def __init__(self) -> None:
        self.usage: Usage = {}
        self.actor = "bench"
        self.kind = "message"
        self.invocation: Invocation | None = None
        self.observers: list[Callable[[str, str, dict[str, Any], bool], None]] = []
        self._lock = threading.Lock()
        self._dynamodb: Any = None

    # bookkeeping
    def add(self, key: Key, **amounts: float) -> None:
        with self._lock:
            row = self.usage.setdefault(key, Row())
            for name, value in amounts.items():
                setattr(row, name, getattr(row, name) + value)

    def snapshot(self) -> Usage:
        with self._lock:
            return copy.deepcopy(self.usage)

    def since(self, before: Usage) -> Usage:
        delta = self.snapshot()
        for key, row in before.items():
            delta.setdefault(key, Row()).add(row, -1)
        return {k: r for k, r in delta.items() if any(getattr(r, f.name) for f in fields(r))}

    @contextlib.contextmanager
    def acting(self, actor: str, kind: str | None = None) -> Iterator[None]:
        saved = self.actor, self.kind
        self.actor = actor
        if kind is not None:
            self.kind = kind
        try:
            yield
        finally:
            self.actor, self.kind = saved

    # the hooks
    def install(self) -> None:
        original = botocore.session.Session.create_client
        meter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            events = client.meta.events
            events.register("before-parameter-build", meter.before_parameter_build)
            events.register("before-call", meter.before_call)
            events.register("after-call", meter.after_call)
            return client

        setattr(botocore.session.Session, "create_client", create_client)  # noqa: B010

    def before_parameter_build(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        context["cost_params"] = params

    def before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        # CPU time of the process, not wall time: the run shares its machine, and a wait for
        # the CPU is no part of a function's compute.
        context["cost_started"] = time.process_time()
        context["cost_actor"] = self.actor
        if self.actor == "bench":
            return
        params = context.get("cost_params", {})
        if model.service_model.service_name == "dynamodb" and model.name in _WRITE_OPS:
            targets = _targets(model.name, params)
            context["cost_targets"] = targets
            context["cost_before"] = [self._item(t.table, t.key) for t in targets]

    def after_call(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        actor = context.get("cost_actor", "bench")
        if actor == "bench":
            return
        # From before-call to here: the request to moto (and this hook's reads of moto's
        # items), none of it the function's own compute.
        started = context.get("cost_started", time.process_time())
        try:
            self._count(actor, parsed, model, context)
        finally:
            invocation = self.invocation
            if invocation is not None and actor == invocation.function:
                invocation.aws_seconds += time.process_time() - started

    def _count(
        self, actor: str, parsed: dict[str, Any], model: Any, context: dict[str, Any]
    ) -> None:
        service = model.service_model.service_name
        operation = model.name
        params: dict[str, Any] = context.get("cost_params", {})
        ok = "Error" not in parsed
        for observer in self.observers:
            observer(service, operation, params, ok)
        invocation = self.invocation
        if invocation is not None and actor == invocation.function:
            transaction = operation.startswith("Transact")
            invocation.modelled_call_ms += (
                TRANSACTION_MS if transaction else CALL_MS.get(service, 10.0)
            )
        kind = self.kind
        name = SERVICE_NAMES.get(service, service)
        if service == "dynamodb":
            detail, units = self._dynamodb_units(operation, params, parsed, context, ok)
            if detail.startswith("KILL"):
                kind = "cache" if kind == "message" else kind
                detail = f"{KILL_SWITCHES} ({actor})"
            self.add((kind, name, operation, detail), count=1, **units)
            return
        if service == "secretsmanager":
            kind = "cache" if kind == "message" else kind
            detail = f"{SECRETS} ({actor})"
        elif service == "scheduler" and operation in _UNBILLED:
            kind = "unbilled"
            detail = f"API call ({actor})"
        elif service == "sqs":
            detail = _sqs_detail(actor, params)
        else:
            detail = actor
        self.add((kind, name, operation, detail), count=1)

    # DynamoDB
    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        if self._dynamodb is None:
            from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

            self._dynamodb = dynamodb_backends[ACCOUNT][REGION]
        try:
            found = self._dynamodb.get_item(table, key)
        except Exception:  # a table that does not exist yet: no item
            return None
        if found is None:
            return None
        attributes: dict[str, Any] = found.to_json()["Attributes"]
        return attributes

    def _dynamodb_units(
        self,
        operation: str,
        params: dict[str, Any],
        parsed: dict[str, Any],
        context: dict[str, Any],
        ok: bool,
    ) -> tuple[str, dict[str, float]]:
        if operation in _WRITE_OPS:
            targets: list[Target] = context.get("cost_targets", [])
            befores: list[dict[str, Any] | None] = context.get("cost_before", [])
            return _write_cost(operation, targets, befores, self._item, ok)
        return _read_cost(operation, params, parsed)


def _targets(operation: str, params: dict[str, Any]) -> list[Target]:
    def key_of(item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in KEY_ATTRS if k in item}

    if operation == "PutItem":
        item = params["Item"]
        return [Target("Put", params["TableName"], key_of(item), item, _purpose("Put", params))]
    if operation in {"UpdateItem", "DeleteItem"}:
        action = operation.removesuffix("Item")
        return [Target(action, params["TableName"], params["Key"], None, _purpose(action, params))]
    found: list[Target] = []
    if operation == "TransactWriteItems":
        for transact in params["TransactItems"]:
            ((action, body),) = transact.items()
            item = body.get("Item")
            key = body.get("Key") or key_of(item or {})
            found.append(Target(action, body["TableName"], key, item, _purpose(action, body)))
    else:  # BatchWriteItem
        for table, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    found.append(Target("Put", table, key_of(item), item, _kind_of(item)))
                else:
                    key = request["DeleteRequest"]["Key"]
                    found.append(Target("Delete", table, key, None, _kind_of(key)))
    return found


def _write_cost(
    operation: str,
    targets: list[Target],
    befores: list[dict[str, Any] | None],
    read_item: Callable[[str, dict[str, Any]], dict[str, Any] | None],
    ok: bool,
) -> tuple[str, dict[str, float]]:
    transactional = operation == "TransactWriteItems"
    table_units = index_units = 0.0
    for target, before in zip(targets, befores, strict=True):
        if target.action == "ConditionCheck":
            after = before
        elif target.action == "Put":
            after = target.item if ok else before
        elif target.action == "Delete":
            after = None if ok else before
        else:
            after = read_item(target.table, target.key) if ok else before
        units = write_units(max(item_size(before), item_size(after)))
        table_units += units * (2 if transactional else 1)
        if ok and target.action != "ConditionCheck":
            index_units += index_writes(before, after)
    detail = " + ".join(f"{t.action} {t.purpose}" if transactional else t.purpose for t in targets)
    if not ok:
        detail += " (condition failed)"
    return detail, {"wru_table": table_units, "wru_index": index_units}


def _read_cost(
    operation: str, params: dict[str, Any], parsed: dict[str, Any]
) -> tuple[str, dict[str, float]]:
    if operation == "GetItem":
        consistent = bool(params.get("ConsistentRead"))
        size = item_size(parsed.get("Item"))
        detail = f"{_kind_of(params.get('Key'))} ({'consistent' if consistent else 'eventual'})"
        return detail, {"rru": read_units(size, consistent=consistent)}
    if operation == "Query":
        index = params.get("IndexName")
        consistent = bool(params.get("ConsistentRead")) and index is None
        total = sum(item_size(i) for i in parsed.get("Items", []))
        values = params.get("ExpressionAttributeValues", {})
        hash_value = next((str(v.get("S", "")) for v in values.values() if "S" in v), "").split(
            "#", 1
        )[0]
        detail = (
            f"{index} index"
            if index
            else f"{hash_value} ({'consistent' if consistent else 'eventual'})"
        )
        return detail, {"rru": read_units(total, consistent=consistent)}
    if operation == "BatchGetItem":
        units = 0.0
        for table, request in params.get("RequestItems", {}).items():
            consistent = bool(request.get("ConsistentRead"))
            items = parsed.get("Responses", {}).get(table, [])
            units += sum(read_units(item_size(i), consistent=consistent) for i in items)
            missing = len(request.get("Keys", [])) - len(items)
            units += max(0, missing) * read_units(0, consistent=consistent)
        return "batch", {"rru": units}
    if operation == "TransactGetItems":
        items = [r.get("Item") for r in parsed.get("Responses", [])]
        return "transaction", {
            "rru": sum(2 * read_units(item_size(i), consistent=True) for i in items)
        }
    return "", {}


def _sqs_detail(actor: str, params: dict[str, Any]) -> str:
    queue = str(params.get("QueueUrl", "")).rsplit("/", 1)[-1].removeprefix("duetime-")
    if actor == "esm":
        return f"ESM, {queue} queue"
    if actor == "scheduler":
        return f"EventBridge target, {queue} queue"
    return f"timer into {queue} queue ({actor})"


# --- logs: what the functions write to stdout (CloudWatch Logs ingestion) -----------------------


class LogSink(io.TextIOBase):
    """Counts the bytes the functions log; keeps WARNING/ERROR lines for the report."""

    def __init__(self) -> None:
        self.bytes = 0
        self.problems: list[str] = []

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        if '"level":"ERROR"' in text or '"level":"WARNING"' in text:
            self.problems.append(text.strip()[:400])
        return len(text)


# --- the deployment: moto resources and one execution environment per function ----------------


class TimedTransport(httpx.BaseTransport):
    """The delivery transport, timed (the destination's wait is modelled, not measured)."""

    def __init__(self, meter: Meter) -> None:
        self._inner = LazyTransport()  # a transport per request in flight, as deployed
        self._meter = meter

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.process_time()
        try:
            return self._inner.handle_request(request)
        finally:
            invocation = self._meter.invocation
            if invocation is not None:
                invocation.http_seconds += time.process_time() - started
                invocation.http_calls += 1


@dataclass
class Options:
    messages: int
    per_month: float
    destination_ms: float
    body_bytes: int
    seed: int
    # How `schedule` starts a delivery that is due now: an asynchronous Invoke of `dispatch`
    # (as infra/ deploys it) or a message on the delivery queue (before issue 13).
    due_now: str = "invoke"

    @property
    def interval(self) -> timedelta:
        """Time between two publishes at the modelled monthly volume."""
        return timedelta(seconds=SECONDS_PER_MONTH / self.per_month)


FUNCTIONS = ("schedule", "dispatch", "step", "recover")
HANDLERS: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    "schedule": schedule.handler,
    "dispatch": dispatch.handler,
    "step": step.handler,
    "recover": recover.handler,
}


class Deployment:
    """duetime's resources in moto, and a warm execution environment per function: its own
    graph, clients and caches, as four Lambda functions have."""

    def __init__(
        self, meter: Meter, clock: VirtualClock, infra: InfraFacts, options: Options
    ) -> None:
        self.meter = meter
        self.clock = clock
        self.infra = infra
        self.options = options
        self.sink = LogSink()
        self.resources: LocalResources = provision(DEV_SIGNING_KEYS)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        token_secret = secrets.create_secret(Name="duetime/api-token", SecretString=DEV_TOKEN)
        environment = self.resources.environment(token=DEV_TOKEN)
        # As infra/ configures the functions: the API token comes from its secret.
        environment.pop("DUETIME_TOKEN_SHA256")
        environment["DUETIME_TOKEN_SECRET_ID"] = token_secret["ARN"]
        settings = Settings.from_env(environment)
        self.graphs = {name: self._graph(settings) for name in FUNCTIONS}
        if options.due_now == "invoke":
            # infra/ gives only the API function the dispatch function's ARN.
            self.graphs["schedule"] = self._graph(
                Settings.from_env(
                    {**environment, "DUETIME_DISPATCH_FUNCTION": DISPATCH_FUNCTION_ARN}
                )
            )
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.scheduler = boto3.client("scheduler", region_name=REGION)
        for handler in logging.getLogger(duetime_logger.service).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(self.sink)
        duetime_logger.setLevel("INFO")  # infra/'s log level

    def _graph(self, settings: Settings) -> wiring.Graph:
        graph = wiring.build(
            settings, aws_adapters(settings), clock=self.clock, http=TimedTransport(self.meter)
        )
        graph.dispatcher.sleep = self.clock.sleep
        graph.flow_runner.sleep = self.clock.sleep
        # A warm environment has made its clients: the AWS timers make theirs at the first
        # timer they arm, which would otherwise land inside a measured invocation.
        for timers in (graph.adapters.timers, graph.adapters.step_timers):
            _ = vars(timers)["_sqs"].meta, vars(timers)["_scheduler"].meta
        # Note which invocations look a cached value up (the steady-state refresh model).
        switches, keys = graph.kill_switches, graph.adapters.keys
        self.ttl = {
            KILL_SWITCHES: switches.cache_seconds,
            SIGNING_KEYS: float(settings.secret_cache_seconds),
            BEARER_CACHE: float(settings.secret_cache_seconds),
        }
        for owner, method, cache in (
            (switches, "current", KILL_SWITCHES),
            (keys, "signing_keys", SIGNING_KEYS),
            (keys, "token_hashes", BEARER_CACHE),
        ):
            setattr(owner, method, functools.partial(self._lookup, cache, getattr(owner, method)))
        return graph

    def _lookup(self, cache: str, read: Callable[[], Any]) -> Any:
        invocation = self.meter.invocation
        if invocation is not None:
            invocation.caches.add(cache)
        return read()

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """One Lambda invocation of `function` in its warm environment, counted and timed."""
        wiring.install(self.graphs[function])
        invocation = Invocation(function)
        logged = self.sink.bytes
        stdout = io.StringIO()
        with self.meter.acting(function):
            self.meter.invocation = invocation
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                with contextlib.redirect_stdout(stdout):
                    result = HANDLERS[function](
                        event,
                        LocalContext(
                            function_name=f"duetime-{function}",
                            memory_limit_in_mb=self.infra.memory_mb,
                        ),
                    )
            finally:
                wall = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                self.meter.invocation = None
                wiring.install(None)
        self.sink.write(stdout.getvalue())
        for cache in invocation.caches:
            self.meter.add(("lookup", "cache", cache, function), count=1)
        # The function's own compute: CPU time outside AWS calls (moto's work, and this bench's
        # reads of moto's items) and outside the HTTP call (the receiver's work).
        local = max(0.0, cpu - invocation.aws_seconds - invocation.http_seconds)
        vcpu_share = min(1.0, self.infra.memory_mb / FULL_VCPU_MB)
        billed_ms = math.ceil(
            local * 1000 / vcpu_share
            + invocation.modelled_call_ms
            + invocation.http_calls * self.options.destination_ms
        )
        self.meter.add(
            (self.meter.kind, "Lambda", "Invoke", function),
            count=1,
            billed_ms=billed_ms,
            gb_seconds=billed_ms / 1000 * self.infra.memory_mb / 1024,
            wall_ms=wall * 1000,
            local_ms=local * 1000,
            log_bytes=self.sink.bytes - logged + PLATFORM_LOG_BYTES,
        )
        return result

    def api(
        self,
        method: str,
        path: str,
        route: str,
        *,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> tuple[int, Any]:
        """A request through the front door: one API Gateway request, one `schedule` call."""
        self.meter.add((self.meter.kind, "API Gateway", "HTTP API request", route), count=1)
        event = http_event(method, path, token=DEV_TOKEN, headers=headers, body=body)
        result = self.invoke("schedule", event)
        return int(result["statusCode"]), json.loads(result.get("body") or "null")


# --- what AWS does around the functions ---------------------------------------------------------


@dataclass(frozen=True)
class ArmedSchedule:
    fire_at: datetime
    target_arn: str  # a queue's, or the dispatch function's
    body: str


@dataclass(order=True)
class Action:
    at: datetime
    seq: int
    run: Callable[[], None] = field(compare=False)


class Platform:
    """Lambda's SQS event source mappings, EventBridge Scheduler and the recovery clock."""

    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment
        self.meter = deployment.meter
        self.clock = deployment.clock
        r = deployment.resources
        self.queues = {  # queue name: (url, arn, function)
            r.queue_url.rsplit("/", 1)[-1]: (r.queue_url, r.queue_arn, "dispatch"),
            r.step_queue_url.rsplit("/", 1)[-1]: (r.step_queue_url, r.step_queue_arn, "step"),
        }
        self.url_of_arn = {arn: url for url, arn, _ in self.queues.values()}
        self.schedules: dict[str, ArmedSchedule] = {}
        self.actions: list[Action] = []
        self._seq = 0
        self.recover_every: timedelta | None = None
        self.next_recover: datetime | None = None
        self.recovered = 0
        self.batches: Counter[int] = Counter()
        self._rng = random.Random(deployment.options.seed)
        self.meter.observers.append(self._observe)
        self.invoked = 0
        clients.session().register("before-call.lambda.Invoke", self._invoke_async)
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        self._sqs_backend = sqs_backends[ACCOUNT][REGION]

    def _invoke_async(self, **kwargs: Any) -> Any:
        """Lambda's asynchronous Invoke (moto runs functions only in Docker): the answer is
        returned from botocore's before-call, so nothing reaches moto, and the event runs as
        its own `dispatch` invocation once the caller's has ended. Lambda bills the invocation
        (counted by Deployment.invoke), not the Invoke request on top."""
        params: dict[str, Any] = kwargs["params"]
        if params["headers"].get("X-Amz-Invocation-Type") != "Event":
            raise NotImplementedError("bench.cost emulates only asynchronous invokes")
        if DISPATCH_FUNCTION not in unquote(str(params["url_path"])):
            raise NotImplementedError(f"bench.cost invokes only {DISPATCH_FUNCTION}")
        event = json.loads(params["body"])
        invocation = self.meter.invocation
        if invocation is not None:
            invocation.modelled_call_ms += CALL_MS["lambda"]
        self.invoked += 1
        self.at(self.clock(), lambda: self._dispatch_invoked(event))
        http = AWSResponse(params["url"], 202, HTTPHeaders(), None)
        return http, {"StatusCode": 202, "ResponseMetadata": {"HTTPStatusCode": 202}}

    def _dispatch_invoked(self, event: dict[str, Any]) -> None:
        self.d.invoke("dispatch", event)

    def _observe(self, service: str, operation: str, params: dict[str, Any], ok: bool) -> None:
        if service != "scheduler" or not ok:
            return
        if operation == "CreateSchedule":
            # A one-time schedule fires anywhere in its minute (docs/architecture.md).
            jitter = timedelta(seconds=self._rng.uniform(0, EVENTBRIDGE_JITTER_SECONDS))
            self.schedules[params["Name"]] = ArmedSchedule(
                parse_at_expression(params["ScheduleExpression"]) + jitter,
                params["Target"]["Arn"],
                params["Target"].get("Input", ""),
            )
        elif operation == "DeleteSchedule":
            self.schedules.pop(params["Name"], None)

    def at(self, when: datetime, run: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self.actions, Action(when, self._seq, run))

    # one step of each
    def _run_actions(self) -> bool:
        ran = False
        while self.actions and self.actions[0].at <= self.clock():
            heapq.heappop(self.actions).run()
            ran = True
        return ran

    def _fire_schedules(self) -> bool:
        due = sorted((s.fire_at, n) for n, s in self.schedules.items() if s.fire_at <= self.clock())
        for _, name in due:
            armed = self.schedules.pop(name)
            self.meter.add(
                ("message", "EventBridge Scheduler", "Invocation", "one-time timer"), count=1
            )
            if armed.target_arn == DISPATCH_FUNCTION_ARN:
                # Scheduler invokes the function asynchronously: the invocation is billed, and
                # no queue request is made.
                self.at(
                    self.clock(), functools.partial(self._dispatch_invoked, json.loads(armed.body))
                )
            else:
                with self.meter.acting("scheduler"):
                    self.d.sqs.send_message(
                        QueueUrl=self.url_of_arn[armed.target_arn], MessageBody=armed.body
                    )
            # ActionAfterCompletion=DELETE: the service removes it; moto needs telling.
            self.d.scheduler.delete_schedule(Name=name, GroupName=self.d.resources.schedule_group)
        return bool(due)

    def _recover(self) -> bool:
        if (
            self.next_recover is None
            or self.recover_every is None
            or self.next_recover > self.clock()
        ):
            return False
        self.next_recover += self.recover_every
        with self.meter.acting("recovery-clock", kind="fixed"):
            self.meter.add(
                ("fixed", "EventBridge Scheduler", "Invocation", "recovery clock"), count=1
            )
            result = self.d.invoke("recover", {})
        self.recovered += int(result.get("recovered", 0))
        return True

    def _visible(self, name: str) -> bool:
        return any(m.visible and not m.delayed for m in self._sqs_backend.queues[name]._messages)

    def _next_visible(self) -> datetime | None:
        now = self.clock.ms()
        times = [
            max(m.delayed_until, m.visible_at)
            for name in self.queues
            for m in self._sqs_backend.queues[name]._messages
        ]
        later = [t for t in times if t > now]
        if not later:
            return None
        return datetime.fromtimestamp(min(later) / 1000 + 0.0005, UTC)

    def _poll(self, name: str) -> None:
        """One ESM batch: ReceiveMessage, invoke, DeleteMessageBatch of what succeeded."""
        url, arn, function = self.queues[name]
        with self.meter.acting("esm"):
            received = self.d.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=self.d.infra.sqs_batch_size,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
            )
        messages = list(received.get("Messages", []))
        if not messages:
            return
        self.batches[len(messages)] += 1
        result = self.d.invoke(function, sqs_event(messages, arn))
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            with self.meter.acting("esm"):
                self.d.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done)
                    ],
                )

    def drain(self) -> None:
        """Do everything due at the current virtual time, until nothing more is."""
        while True:
            progressed = self._run_actions() | self._fire_schedules() | self._recover()
            for name in self.queues:
                while self._visible(name):
                    self._poll(name)
                    progressed = True
            if not progressed:
                return

    def next_time(self) -> datetime | None:
        candidates = [a.at for a in self.actions[:1]]
        candidates += [s.fire_at for s in self.schedules.values()]
        visible = self._next_visible()
        if visible is not None:
            candidates.append(visible)
        if self.next_recover is not None:
            candidates.append(self.next_recover)
        return min(candidates) if candidates else None

    def run(self, done: Callable[[], bool], *, limit: timedelta = timedelta(hours=12)) -> None:
        """Move the clock from event to event until `done()` (or nothing is left to happen)."""
        end = self.clock() + limit
        while True:
            self.drain()
            if done():
                return
            when = self.next_time()
            if when is None or when > end:
                raise SystemExit(f"bench.cost: the run stalled at {self.clock().isoformat()}")
            self.clock.set(max(when, self.clock() + timedelta(microseconds=1)))

    def purge(self) -> int:
        """Drop timers left over by a scenario (a deleted schedule's last one), uncounted;
        returns how many there were."""
        left = 0
        for name in self.queues:
            queue = self._sqs_backend.queues[name]
            left += len(queue._messages)
            queue._messages.clear()
            queue.pending_messages.clear()
        for name in list(self.schedules):
            self.d.scheduler.delete_schedule(Name=name, GroupName=self.d.resources.schedule_group)
            del self.schedules[name]
            left += 1
        return left


# --- the destination ------------------------------------------------------------------------------


class Destination:
    """Answers 200, except 500 once to each /fail-once/ path; counts deliveries by category."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failed: set[str] = set()
        self.delivered: Counter[str] = Counter()
        self.per_path: Counter[str] = Counter()

    def respond(self, received: Received, _: int) -> Reply:
        category = received.path.split("/")[1]
        with self._lock:
            if category == "fail-once" and received.path not in self._failed:
                self._failed.add(received.path)
                return Reply(status=500, body=b"try again")
            self.delivered[category] += 1
            self.per_path[received.path] += 1
        return Reply()

    def total(self) -> int:
        with self._lock:
            return sum(self.delivered.values())

    def awaited(self) -> int:
        """Deliveries other than schedule fires (a run waits for these)."""
        with self._lock:
            return sum(n for c, n in self.delivered.items() if c != "fire")

    def duplicates(self) -> int:
        with self._lock:
            return sum(
                n - 1 for p, n in self.per_path.items() if n > 1 and not p.startswith("/fire")
            )


# --- the workload -------------------------------------------------------------------------------


class Workload:
    def __init__(
        self,
        deployment: Deployment,
        platform: Platform,
        receiver: Receiver,
        destination: Destination,
    ) -> None:
        self.d = deployment
        self.p = platform
        self.receiver = receiver
        self.dest = destination
        self._n = 0
        options = deployment.options
        filler = "x" * max(0, options.body_bytes - 40)
        self._body = f'{{"offer": "A-1", "n": 0, "pad": "{filler}"}}'

    def _next(self) -> int:
        self._n += 1
        return self._n

    def publish(self, category: str, delay_seconds: int = 0) -> None:
        n = self._next()
        headers = {"Content-Type": "application/json", "Upstash-Forward-X-Tenant": "acme"}
        if delay_seconds:
            headers["Upstash-Delay"] = f"{delay_seconds}s"
        url = self.receiver.url(f"/{category}/{n}")
        status, body = self.d.api(
            "POST", f"/v2/publish/{url}", "POST /v2/publish", headers=headers, body=self._body
        )
        if status != 201:
            raise SystemExit(f"bench.cost: publish answered {status}: {body}")

    def start_flow(self) -> None:
        n = self._next()
        url = self.receiver.url
        steps = [
            {"id": "s1", "destination": url(f"/flow/{n}/1"), "body": {"n": 1}},
            {"id": "s2", "destination": url(f"/flow/{n}/2"), "delay": "8s"},
            {
                "id": "s3",
                "destination": url(f"/flow/{n}/3"),
                "delay": "8s",
                "setStateToken": "sent",
            },
            {
                "id": "s4",
                "destination": url(f"/flow/{n}/4"),
                "delay": "1m",
                "expectStateToken": "sent",
            },
        ]
        body = json.dumps({"stateToken": "start", "steps": steps})
        status, answer = self.d.api("POST", f"/v2/flows/flow-{n}", "POST /v2/flows", body=body)
        if status != 201:
            raise SystemExit(f"bench.cost: flow start answered {status}: {answer}")

    def create_schedule(self) -> str:
        url = self.receiver.url(f"/fire/{self._next()}")
        status, body = self.d.api(
            "POST",
            f"/v2/schedules/{url}",
            "POST /v2/schedules",
            headers={"Upstash-Cron": "* * * * *", "Content-Type": "application/json"},
            body=self._body,
        )
        if status != 201:
            raise SystemExit(f"bench.cost: schedule answered {status}: {body}")
        return str(body["scheduleId"])

    def delete_schedule(self, schedule_id: str) -> None:
        status, body = self.d.api("DELETE", f"/v2/schedules/{schedule_id}", "DELETE /v2/schedules")
        if status != 200:
            raise SystemExit(f"bench.cost: schedule delete answered {status}: {body}")


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Measured:
    name: str
    delivered: int
    usage: Usage
    wall_seconds: float
    note: str = ""
    virtual_hours: float = 0.0


class Bench:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.infra = infra_facts()
        self.meter = Meter()
        start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(seconds=30)
        self.clock = VirtualClock(start)
        self.rng = random.Random(options.seed)
        self.leftovers = 0

    def setup(self, receiver: Receiver, destination: Destination) -> None:
        self.d = Deployment(self.meter, self.clock, self.infra, self.options)
        self.p = Platform(self.d)
        self.w = Workload(self.d, self.p, receiver, destination)
        self.dest = destination

    def measure(self, name: str, arrange: Callable[[], int], note: str = "") -> Measured:
        """Run what `arrange` schedules (it returns the deliveries expected, schedule fires
        aside) to completion."""
        before_usage = self.meter.snapshot()
        before_delivered = self.dest.total()
        before_awaited = self.dest.awaited()
        started, virtual_start = time.perf_counter(), self.clock()
        expected = arrange()
        self.p.run(lambda: self.dest.awaited() - before_awaited >= expected)
        delivered = self.dest.total() - before_delivered
        measured = Measured(
            name,
            delivered,
            self.meter.since(before_usage),
            time.perf_counter() - started,
            note,
            (self.clock() - virtual_start).total_seconds() / 3600,
        )
        self.leftovers += self.p.purge()
        return measured

    def spaced(self, count: int, run: Callable[[int], None], gap: timedelta | None = None) -> None:
        step_gap = gap or self.options.interval
        for i in range(count):
            self.p.at(self.clock() + step_gap * i, functools.partial(run, i))

    # the scenarios
    def warm_up(self) -> Usage:
        before = self.meter.snapshot()

        def arrange() -> int:
            self.spaced(3, lambda _: self.w.publish("warm"))
            self.spaced(1, lambda _: self.w.start_flow())
            return 7

        self.measure("warm-up", arrange)
        return self.meter.since(before)

    def scenarios(self, k: int) -> list[Measured]:
        w = self.w
        out = [
            self.measure("immediate (happy path)", lambda: self._each(k, lambda: w.publish("ok"))),
            self.measure(
                "delayed 5 min (SQS delay)", lambda: self._each(k, lambda: w.publish("ok", 300))
            ),
            self.measure(
                "due in 1 h (EventBridge, then SQS)",
                lambda: self._each(k, lambda: w.publish("ok", 3600)),
            ),
            self.measure(
                "500 once, then retried", lambda: self._each(k, lambda: w.publish("fail-once"))
            ),
        ]
        flows = max(2, k // 8)
        out.append(
            self.measure(
                "4-step flow (per step)",
                lambda: self._each(flows, w.start_flow, per=4, gap=timedelta(minutes=2)),
            )
        )
        out.append(self._schedule_fires(k))
        return out

    def _each(
        self, count: int, run: Callable[[], None], *, per: int = 1, gap: timedelta | None = None
    ) -> int:
        self.spaced(count, lambda _: run(), gap)
        return count * per

    def _schedule_fires(self, fires: int) -> Measured:
        """A schedule every minute: per fire, its creation and deletion left out."""
        schedule_id = self.w.create_schedule()
        before_usage = self.meter.snapshot()
        before_delivered = self.dest.total()
        started = time.perf_counter()
        self.p.run(lambda: self.dest.total() - before_delivered >= fires)
        measured = Measured(
            "schedule fire (every minute)",
            self.dest.total() - before_delivered,
            self.meter.since(before_usage),
            time.perf_counter() - started,
        )
        self.w.delete_schedule(schedule_id)
        self.leftovers += self.p.purge()
        return measured

    def warm_burst(self, count: int) -> Measured:
        """Many warm invocations inside one secrets-cache window (60 s): no secret reads."""
        # Past every cache's lifetime, so this publish and its delivery refresh them all; the
        # burst then runs inside their 60 s.
        self.clock.set(self.clock() + timedelta(seconds=61))
        self.w.publish("warm")
        self.p.drain()

        def arrange() -> int:
            self.spaced(
                count, lambda _: self.w.publish("burst"), gap=timedelta(milliseconds=BURST_GAP_MS)
            )
            return count

        return self.measure("warm burst", arrange)

    def mix(self) -> Measured:
        """The realistic mix on one timeline, with the recovery clock ticking."""
        n = self.options.messages
        categories = (
            ["immediate"] * round(n * 0.35)
            + ["delayed"] * round(n * 0.35)
            + ["far"] * round(n * 0.20)
        )
        categories += ["fail-once"] * (n - len(categories))
        self.rng.shuffle(categories)
        window = self.options.interval * n
        schedule_ids: list[str] = []

        def publish(category: str) -> None:
            if category == "immediate":
                self.w.publish("ok")
            elif category == "delayed":
                self.w.publish("ok", self.rng.randint(1, 900))
            elif category == "far":
                self.w.publish("ok", self.rng.randint(16 * 60, 2 * 3600))
            else:
                self.w.publish("fail-once")

        def arrange() -> int:
            start = self.clock()
            for i, category in enumerate(categories):
                self.p.at(start + self.options.interval * i, functools.partial(publish, category))
            self.p.at(start, lambda: schedule_ids.append(self.w.create_schedule()))
            self.p.at(start + timedelta(seconds=60), self.w.start_flow)
            self.p.at(start + window, lambda: self.w.delete_schedule(schedule_ids[0]))
            self.p.recover_every = RECOVERY_SAMPLE_EVERY
            self.p.next_recover = start + self.p.recover_every
            return n + 4  # the fires come on top; the run waits for these

        before_fires = self.dest.delivered["fire"]
        measured = self.measure("mix", arrange)
        self.p.recover_every = self.p.next_recover = None
        fires = self.dest.delivered["fire"] - before_fires
        measured.note = f"{n} messages, {fires} schedule fires, 4 flow steps"
        return measured


# --- pricing and the report ----------------------------------------------------------------------


BILLED_SERVICES = {"API Gateway", "Lambda", "SQS", "DynamoDB", "Secrets Manager"}


def billable(key: Key, row: Row) -> float:
    """Requests AWS bills by count (DynamoDB calls included, though it bills their units)."""
    _, service, operation, _ = key
    if service == "EventBridge Scheduler":
        return row.count if operation == "Invocation" else 0.0
    return row.count if service in BILLED_SERVICES else 0.0


def dollars(key: Key, row: Row, infra: InfraFacts) -> float:
    _, service, operation, _ = key
    p = PRICES
    prices: dict[str, Callable[[], float]] = {
        "API Gateway": lambda: row.count * p.api_gateway_http_request,
        "Lambda": lambda: row.count * p.lambda_request + row.gb_seconds * infra.gb_second_price,
        "SQS": lambda: row.count * p.sqs_request,
        "DynamoDB": lambda: (
            (row.wru_table + row.wru_index) * p.dynamodb_wru + row.rru * p.dynamodb_rru
        ),
        "EventBridge Scheduler": lambda: (
            row.count * p.scheduler_invocation if operation == "Invocation" else 0.0
        ),
        "Secrets Manager": lambda: row.count * p.secrets_api_call,
    }
    return prices[service]() if service in prices else 0.0


@dataclass(frozen=True)
class CacheModel:
    """Steady-state cache refreshes. A warm function re-reads a cache at its first lookup after
    the cache expired: every ttl + 1/lambda seconds, lambda its lookup rate. With N execution
    environments (at least one; more at load: invocation rate x duration), per delivered
    message that is N / (r * ttl + N / L), L = invocations that look up per delivered message,
    r = delivered messages per second."""

    ttl: dict[str, float]
    per_second: float

    def steady(self, m: Measured) -> Usage:
        usage = {k: r for k, r in m.usage.items() if k[0] != "cache"}
        n = m.delivered
        if not n:
            return usage
        measured_rru = [
            r.rru / r.count for k, r in m.usage.items() if k[0] == "cache" and k[1] == "DynamoDB"
        ]
        rru_per_read = max(measured_rru, default=1.0)
        r = self.per_second
        for (kind, _, cache, function), row in m.usage.items():
            if kind != "lookup":
                continue
            lam = m.usage.get(("message", "Lambda", "Invoke", function), Row())
            duration = lam.billed_ms / lam.count / 1000 if lam.count else 0.0
            envs = max(1.0, lam.count / n * r * duration)
            looked_up = row.count / n
            count = envs / (r * self.ttl[cache] + envs / looked_up) * n
            if cache == KILL_SWITCHES:
                key: Key = (
                    "cache",
                    "DynamoDB",
                    "Query",
                    f"KILL, {cache} {self.ttl[cache]:g} s cache ({function})",
                )
                usage[key] = Row(count=count, rru=count * rru_per_read)
            else:
                key = (
                    "cache",
                    "Secrets Manager",
                    "GetSecretValue",
                    f"{cache}, {self.ttl[cache]:g} s cache ({function})",
                )
                usage[key] = Row(count=count)
        return usage


FRONT_DOORS = ("HTTP API", "function URL")


def front(usage: Usage, door: str, kinds: tuple[str, ...] = ("message", "cache")) -> Usage:
    return {
        k: r
        for k, r in usage.items()
        if k[0] in kinds and not (door == "function URL" and k[1] == "API Gateway")
    }


@dataclass(frozen=True)
class Figures:
    requests: float
    requests_without_lambda: float
    cache_requests: float
    wru: float
    rru: float
    usd: float


def figures(usage: Usage, infra: InfraFacts) -> Figures:
    return Figures(
        requests=sum(billable(k, r) for k, r in usage.items()),
        requests_without_lambda=sum(billable(k, r) for k, r in usage.items() if k[1] != "Lambda"),
        cache_requests=sum(billable(k, r) for k, r in usage.items() if k[0] == "cache"),
        wru=sum(r.wru_table + r.wru_index for k, r in usage.items() if k[1] == "DynamoDB"),
        rru=sum(r.rru for k, r in usage.items() if k[1] == "DynamoDB"),
        usd=sum(dollars(k, r, infra) for k, r in usage.items()),
    )


def per(value: float, delivered: int) -> float:
    return value / delivered if delivered else 0.0


def count_of(usage: Usage, service: str) -> float:
    return sum(r.count for k, r in usage.items() if k[1] == service and k[0] != "lookup")


@dataclass
class Report:
    options: Options
    infra: InfraFacts
    caches: CacheModel
    capacity_method: str
    warm_up: Usage
    scenarios: list[Measured]
    burst: Measured
    mix: Measured
    recovered: int
    duplicates: int
    leftovers: int
    batches: Counter[int]
    problems: list[str]
    wall_seconds: float
    out: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    def say(self, *lines: str) -> None:
        self.out.extend(lines)

    def render(self) -> tuple[list[str], dict[str, Any]]:
        self._header()
        self._scenarios()
        self._mix()
        self._fixed()
        self._secrets()
        self._logs()
        self._checks()
        return self.out, self.result

    def _header(self) -> None:
        o, infra = self.options, self.infra
        self.say(
            "# duetime cost model (bench/cost.py)",
            "",
            f"Prices: us-east-1 list prices as of {PRICES_AS_OF} (docs/cost.md), "
            "free tiers ignored.",
            f"Lambda: {infra.memory_mb} MB, {infra.architecture} (infra/): $0.20 per million "
            f"invocations + ${infra.gb_second_price:.10f}/GB-s. Billed duration = the CPU time "
            f"measured here outside AWS and HTTP calls x {FULL_VCPU_MB}/{infra.memory_mb} "
            "(Lambda's vCPU share at this memory size) + a p50 per call: "
            f"DynamoDB {CALL_MS['dynamodb']:g} ms ({TRANSACTION_MS:g} ms a "
            f"transaction), SQS {CALL_MS['sqs']:g} ms, Scheduler {CALL_MS['scheduler']:g} ms, "
            f"Secrets Manager {CALL_MS['secretsmanager']:g} ms, + {o.destination_ms:g} ms per HTTP "
            "delivery (the destination's answer) - assumptions, not measurements.",
            "Due now: "
            + (
                "the API function starts `dispatch` by an asynchronous Lambda Invoke (infra/), "
                "billed as the dispatch invocation, and its far-off timers are schedules that "
                "invoke `dispatch`; delays go by SQS."
                if o.due_now == "invoke"
                else "by the delivery queue, and far-off timers are schedules that send to it, "
                "as before issue 13 (--due-now queue)."
            ),
            f"SQS event source (infra/): batch size {infra.sqs_batch_size}, batching window "
            f"{infra.batching_window_s} s; one ReceiveMessage per batch and one DeleteMessageBatch "
            "for its successes. Idle long polling: a fixed cost (below).",
            f"Load: {o.per_month:,.0f} delivered messages a month = one publish every "
            f"{o.interval.total_seconds():.2f} s; bodies of {o.body_bytes} bytes. Cache refreshes "
            "(kill switches 5 s, secrets 60 s) are time-driven: they are priced at their steady "
            "state at this load, from the lookups counted per invocation (N / (r*ttl + N/L) per "
            "message, see CacheModel); the finite run's own counts are shown beside.",
            f"DynamoDB capacity: {self.capacity_method}",
            "",
            "Billable AWS requests = the requests AWS bills by count: API Gateway HTTP API "
            "requests (none behind a function URL), Lambda invocations, SQS requests (duetime's "
            "SendMessage, "
            "the event source's ReceiveMessage and DeleteMessageBatch, EventBridge's SendMessage "
            "into the queue), DynamoDB requests (a transaction counts once; DynamoDB bills their "
            "request units, shown as WRU/RRU), EventBridge Scheduler invocations and Secrets "
            "Manager calls. Not counted: Scheduler CreateSchedule/DeleteSchedule (no per-call "
            "charge) and CloudWatch Logs (per GB, below). A delivered message = one 2xx answer "
            "from the destination: a published message, a schedule fire or a flow step.",
            "",
        )

    def _scenarios(self) -> None:
        infra = self.infra
        self.say(
            "## Per scenario, measured one at a time (warm functions, one every "
            f"{self.options.interval.total_seconds():.2f} s)",
            "",
            "| scenario | delivered | requests / delivered, HTTP API / URL | cache refreshes | "
            "URL without Lambda | WRU | RRU | $ / M delivered, HTTP API / URL |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        )
        scenarios: dict[str, Any] = {}
        for m in self.scenarios:
            usage = self.caches.steady(m)
            http = figures(front(usage, "HTTP API"), infra)
            url = figures(front(usage, "function URL"), infra)
            n = m.delivered
            scenarios[m.name] = {
                "delivered": n,
                "requests_per_message": {
                    "HTTP API": per(http.requests, n),
                    "function URL": per(url.requests, n),
                },
                "usd_per_million": {
                    "HTTP API": per(http.usd, n) * 1e6,
                    "function URL": per(url.usd, n) * 1e6,
                },
                "wru_per_message": per(url.wru, n),
                "rru_per_message": per(url.rru, n),
            }
            self.say(
                f"| {m.name} | {n} | {per(http.requests, n):.2f} / {per(url.requests, n):.2f} | "
                f"{per(url.cache_requests, n):.2f} | {per(url.requests_without_lambda, n):.2f} | "
                f"{per(url.wru, n):.2f} | {per(url.rru, n):.2f} | "
                f"{per(http.usd, n) * 1e6:.2f} / {per(url.usd, n) * 1e6:.2f} |"
            )
        self.result["scenarios"] = scenarios
        happy = self.scenarios[0]
        usage = self.caches.steady(happy)
        n = happy.delivered
        url = figures(front(usage, "function URL"), infra)
        http = figures(front(usage, "HTTP API"), infra)
        met = per(url.requests, n) <= 5 and per(url.usd, n) * 1e6 <= 3
        self.result["happy_path"] = {
            "requests_per_message": {
                "HTTP API": per(http.requests, n),
                "function URL": per(url.requests, n),
            },
            "cache_refreshes_per_message": per(url.cache_requests, n),
            "usd_per_million": {
                "HTTP API": per(http.usd, n) * 1e6,
                "function URL": per(url.usd, n) * 1e6,
            },
            "target_met": met,
        }
        self.say(
            "",
            "Happy path (an immediate message, delivered first time): "
            f"{per(http.requests - http.cache_requests, n):.2f} billable requests with the HTTP "
            "API, "
            f"{per(url.requests - url.cache_requests, n):.2f} with a function URL "
            f"(+{per(url.cache_requests, n):.2f} cache refreshes at this load), "
            f"{per(url.requests_without_lambda, n):.2f} without Lambda invocations; "
            f"${per(http.usd, n) * 1e6:.2f} / ${per(url.usd, n) * 1e6:.2f} per million. "
            f"Issue 13's target (<= 5 requests and <= $3 per million, cheapest front door): "
            f"{'met' if met else 'not met'}.",
            "",
        )

    def _mix(self) -> None:
        infra, mix = self.infra, self.mix
        usage = self.caches.steady(mix)
        self.say(
            f"## The mix on one timeline ({mix.note})",
            "",
            "Per delivered message, HTTP API front door (a function URL drops the API Gateway "
            "rows):",
            "",
            "| service | operation | detail | kind | requests | WRU table + index | RRU | "
            "Lambda ms billed (local here) | $ / M delivered |",
            "|---|---|---|---|---:|---:|---:|---:|---:|",
        )
        n = mix.delivered
        rows = front(usage, "HTTP API")
        self.result["mix_rows"] = [
            {
                "kind": k[0],
                "service": k[1],
                "operation": k[2],
                "detail": k[3],
                "requests_per_message": per(billable(k, r), n),
                "calls_per_message": per(r.count, n),
                "wru_table_per_message": per(r.wru_table, n),
                "wru_index_per_message": per(r.wru_index, n),
                "rru_per_message": per(r.rru, n),
                "lambda_billed_ms_each": r.billed_ms / r.count if r.count else 0.0,
                "lambda_local_cpu_ms_each": r.local_ms / r.count if r.count else 0.0,
                "usd_per_million": per(dollars(k, r, infra), n) * 1e6,
            }
            for k, r in {**rows, **front(usage, "HTTP API", ("unbilled", "fixed"))}.items()
        ]
        for key, row in sorted(rows.items(), key=lambda kv: (-dollars(kv[0], kv[1], infra), kv[0])):
            kind, service, operation, detail = key
            dynamo = service == "DynamoDB"
            units = f"{per(row.wru_table, n):.2f} + {per(row.wru_index, n):.2f}" if dynamo else ""
            ms = (
                f"{row.billed_ms / row.count:.0f} ({row.local_ms / row.count:.0f})"
                if service == "Lambda" and row.count
                else ""
            )
            self.say(
                f"| {service} | {operation} | {detail} | {kind} | "
                f"{per(billable(key, row), n):.3f} | "
                f"{units} | {f'{per(row.rru, n):.3f}' if dynamo else ''} | {ms} | "
                f"{per(dollars(key, row, infra), n) * 1e6:.3f} |"
            )
        for (_, service, operation, detail), row in sorted(
            front(usage, "HTTP API", ("unbilled",)).items()
        ):
            self.say(
                f"| {service} | {operation} | {detail} | unbilled | ({per(row.count, n):.3f}) "
                "| | | | 0 |"
            )
        self.say("")
        measured_cache = figures(front(mix.usage, "function URL", ("cache",)), infra)
        for door in FRONT_DOORS:
            f = figures(front(usage, door), infra)
            by_service: dict[str, dict[str, float]] = {}
            for key, row in front(usage, door).items():
                t = by_service.setdefault(key[1], {"requests": 0.0, "usd_per_million": 0.0})
                t["requests"] += per(billable(key, row), n)
                t["usd_per_million"] += per(dollars(key, row, infra), n) * 1e6
            self.result[door] = {
                "requests_per_message": round(per(f.requests, n), 3),
                "requests_per_message_without_lambda": round(per(f.requests_without_lambda, n), 3),
                "cache_refresh_requests_per_message": round(per(f.cache_requests, n), 3),
                "wru_per_message": round(per(f.wru, n), 3),
                "rru_per_message": round(per(f.rru, n), 3),
                "usd_per_million": round(per(f.usd, n) * 1e6, 3),
                "by_service": by_service,
            }
            r = self.result[door]
            self.say(
                f"Mix, {door}: {r['requests_per_message']:.2f} billable requests per delivered "
                "message "
                f"({r['requests_per_message_without_lambda']:.2f} without Lambda invocations; "
                f"{r['cache_refresh_requests_per_message']:.2f} of them cache refreshes), "
                f"{r['wru_per_message']:.2f} WRU and {r['rru_per_message']:.2f} RRU, "
                f"${r['usd_per_million']:.2f} per million delivered (QStash pay-as-you-go: "
                f"${PRICES.qstash_message * 1e6:.2f}).",
                "  by service: "
                + ", ".join(
                    f"{s} {v['requests']:.2f} req ${v['usd_per_million']:.2f}"
                    for s, v in sorted(by_service.items(), key=lambda kv: -kv[1]["usd_per_million"])
                ),
            )
        self.result["cheapest_front_door"] = min(
            FRONT_DOORS, key=lambda d: self.result[d]["usd_per_million"]
        )
        self.say(
            "(Cache refreshes counted in this finite run: "
            f"{per(measured_cache.requests, n):.2f} per "
            "delivered message; its last stretch, far-off deliveries with no new publishes, is "
            "sparser than a steady month, so the figures above use the steady state.)",
            "",
        )

    def _fixed(self) -> None:
        infra, mix, o = self.infra, self.mix, self.options
        fixed = front(mix.usage, "HTTP API", ("fixed",))
        ticks = sum(r.count for k, r in fixed.items() if k[1] == "EventBridge Scheduler")
        tick = figures(fixed, infra)
        per_tick_requests = tick.requests / ticks if ticks else 0.0
        ticks_per_month = SECONDS_PER_MONTH / 60 / infra.recovery_rate_minutes
        recover_usd = tick.usd / ticks * ticks_per_month if ticks else 0.0
        idle = IDLE_RECEIVES_PER_QUEUE_PER_MINUTE * 2 * SECONDS_PER_MONTH / 60
        idle_usd = idle * PRICES.sqs_request
        secrets_usd = infra.secrets * PRICES.secret_per_month
        total = recover_usd + idle_usd + secrets_usd
        cheapest = self.result["cheapest_front_door"]
        variable = self.result[cheapest]["usd_per_million"]
        self.result["fixed_per_month"] = {
            "recover_requests": round(per_tick_requests * ticks_per_month),
            "recover_usd": round(recover_usd, 3),
            "esm_idle_receives": round(idle),
            "esm_idle_usd": round(idle_usd, 3),
            "secrets_storage_usd": secrets_usd,
            "total_usd": round(total, 3),
            "all_in_usd_per_million_at_load": round(variable + total / o.per_month * 1e6, 3),
        }
        self.say(
            "## Fixed monthly costs (not per message)",
            "",
            f"- recovery every {infra.recovery_rate_minutes} min: {ticks_per_month:,.0f} ticks a "
            "month "
            f"x {per_tick_requests:.0f} billable requests (1 Scheduler invocation, 1 Lambda "
            f"invocation, one Query per wake shard; sampled over {ticks:.0f} ticks) = "
            f"{per_tick_requests * ticks_per_month:,.0f} requests, ${recover_usd:.2f}/month;",
            f"- the SQS event sources' idle long polling (assumption: "
            f"{IDLE_RECEIVES_PER_QUEUE_PER_MINUTE} ReceiveMessage a minute per queue, 2 queues): "
            f"{idle:,.0f} requests, ${idle_usd:.2f}/month;",
            f"- Secrets Manager storage: {infra.secrets} secrets x "
            f"${PRICES.secret_per_month:.2f} = "
            f"${secrets_usd:.2f}/month;",
            f"- total ${total:.2f}/month: at {o.per_month:,.0f} messages a month, "
            f"${total / o.per_month * 1e6:.2f} per million on top of the {cheapest}'s "
            f"${variable:.2f} (all-in ${variable + total / o.per_month * 1e6:.2f}).",
            "",
        )

    def _secrets(self) -> None:
        cold = count_of(self.warm_up, "Secrets Manager")
        burst = self.burst
        invocations = count_of(burst.usage, "Lambda")
        reads = count_of(burst.usage, "Secrets Manager")
        mix_reads = count_of(self.mix.usage, "Secrets Manager")
        mix_invocations = count_of(self.mix.usage, "Lambda")
        self.result["secrets"] = {
            "cold_start_reads": cold,
            "warm_invocations": invocations,
            "warm_reads": reads,
            "mix_reads": mix_reads,
            "mix_invocations": mix_invocations,
        }
        self.say(
            "## Secrets Manager is read once per cache lifetime, not per invocation",
            "",
            f"- cold starts (each function's first invocations): {cold:.0f} GetSecretValue calls;",
            f"- then {invocations:.0f} warm invocations ({burst.delivered} publishes and their "
            f"deliveries, {BURST_GAP_MS} ms apart, inside the 60 s cache): {reads:.0f} calls;",
            f"- the mix: {mix_reads:.0f} calls in {mix_invocations:.0f} invocations over "
            f"{self.mix.virtual_hours:.1f} virtual hours (a warm function re-reads a secret at "
            "its first invocation after 60 s).",
            "",
        )

    def _logs(self) -> None:
        mix = self.mix
        log_bytes = sum(r.log_bytes for r in mix.usage.values())
        per_message = per(log_bytes, mix.delivered)
        usd = per_message * 1e6 / 1e9 * PRICES.logs_ingested_gb
        self.result["logs"] = {
            "bytes_per_message": round(per_message),
            "usd_per_million": round(usd, 3),
        }
        self.say(
            "## Not in the figures above: CloudWatch Logs",
            "",
            f"- the functions logged {per_message:,.0f} bytes per delivered message (JSON log "
            f"lines, EMF metrics, ~{PLATFORM_LOG_BYTES} bytes of Lambda's START/END/REPORT per "
            "invocation): "
            f"${usd:.2f} per million at ${PRICES.logs_ingested_gb:.2f}/GB ingested (the HTTP API's "
            "access log comes on top).",
            "",
        )

    def _checks(self) -> None:
        batches = ", ".join(f"{size}: {count}" for size, count in sorted(self.batches.items()))
        self.say(
            f"Checks: {self.mix.delivered} delivered in the mix, {self.duplicates} duplicates, "
            f"{self.recovered} timers re-armed by recovery (0 expected), {self.leftovers} timers "
            f"left when scenarios ended (a deleted schedule's last fire), event-source batch sizes "
            f"{{{batches}}}, {len(self.problems)} warnings/errors logged by the functions; "
            f"{self.wall_seconds:.0f} s wall time.",
        )
        for problem in self.problems[:5]:
            self.say(f"  logged: {problem}")


def capacity_method() -> str:
    """Ask DynamoDB (moto) for ReturnConsumedCapacity=INDEXES; compute if it cannot tell."""
    client = boto3.client("dynamodb", region_name=REGION)
    answer = client.put_item(
        TableName="duetime-table",
        Item={
            "pk": {"S": "BENCH#probe"},
            "sk": {"S": "BENCH"},
            "wake_shard": {"S": "0"},
            "wake_at": {"N": "1"},
        },
        ReturnConsumedCapacity="INDEXES",
    )
    client.delete_item(
        TableName="duetime-table", Key={"pk": {"S": "BENCH#probe"}, "sk": {"S": "BENCH"}}
    )
    consumed = answer.get("ConsumedCapacity", {})
    if consumed.get("GlobalSecondaryIndexes"):
        return f"reported by DynamoDB (ReturnConsumedCapacity=INDEXES): {consumed}"
    return (
        "computed from item sizes and the table's GSI definitions (moto answers "
        f"ReturnConsumedCapacity=INDEXES with {consumed or 'nothing'}, no index figures). "
        "Writes: ceil(larger of before/after item / 1 KB) WRU, x2 in a transaction (condition "
        "checks included); an index entry appearing or leaving 1 WRU, a changed index key 2, "
        "unchanged keys of these KEYS_ONLY indexes 0. Reads: ceil(bytes read / 4 KB) RRU, half "
        "for eventually consistent reads (every index query)."
    )


def run(options: Options) -> tuple[list[str], dict[str, Any]]:
    started = time.perf_counter()
    fake_credentials()
    moto_atomic.install()
    bench = Bench(options)
    virtualise_time(bench.clock)
    bench.meter.install()
    destination = Destination()
    with mock_aws(), Receiver(destination.respond) as receiver:
        bench.setup(receiver, destination)
        method = capacity_method()
        k = max(10, options.messages // 40)
        warm = bench.warm_up()
        scenarios = bench.scenarios(k)
        burst = bench.warm_burst(BURST)
        mix = bench.mix()
        report = Report(
            options=options,
            infra=bench.infra,
            caches=CacheModel(bench.d.ttl, options.per_month / SECONDS_PER_MONTH),
            capacity_method=method,
            warm_up=warm,
            scenarios=scenarios,
            burst=burst,
            mix=mix,
            recovered=bench.p.recovered,
            duplicates=destination.duplicates(),
            leftovers=bench.leftovers,
            batches=bench.p.batches,
            problems=bench.d.sink.problems,
            wall_seconds=time.perf_counter() - started,
        )
        return report.render()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--messages", type=int, default=400, help="messages in the mix (default 400)"
    )
    parser.add_argument(
        "--per-month",
        type=float,
        default=1_000_000,
        help="modelled monthly volume (sets the publish rate)",
    )
    parser.add_argument(
        "--destination-ms", type=float, default=100.0, help="destination answer time, ms"
    )
    parser.add_argument("--body-bytes", type=int, default=256, help="message body size")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--due-now",
        choices=("invoke", "queue"),
        default="invoke",
        help=(
            "how the API starts a delivery due now, and what its EventBridge schedules target: "
            "dispatch by async Invoke (deployed) or the delivery queue (before)"
        ),
    )
    args = parser.parse_args()
    options = Options(
        args.messages, args.per_month, args.destination_ms, args.body_bytes, args.seed, args.due_now
    )
    lines, result = run(options)
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    name = "cost.json" if options.due_now == "invoke" else f"cost-due-now-{options.due_now}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str) + "\n")
    cheapest = result[result["cheapest_front_door"]]
    sys.stdout.write(
        json.dumps(
            {
                "requests_per_message": cheapest["requests_per_message"],
                "usd_per_million": cheapest["usd_per_million"],
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
