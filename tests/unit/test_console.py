"""`duetime dev`'s console: human log lines instead of JSON, and no metrics noise."""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.metrics import MetricUnit

from functions.local import console
from functions.local.gateway import serve
from functions.local.lambda_context import LocalContext
from functions.observability import logger, metrics

TIME = r"\d\d:\d\d:\d\d\.\d{3}"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """install() into a buffer, then put the logger, environment and warnings back."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    old_stream, formatter, level = handler.stream, handler.formatter, logger.log_level
    disabled = os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
    buffer = io.StringIO()
    try:
        with warnings.catch_warnings():
            console.install(buffer)
            logger.setLevel("INFO")  # the unit tests' environment says WARNING
            yield buffer
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(formatter)
        logger.setLevel(level)
        os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        if disabled is not None:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = disabled


def lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def test_a_record_is_one_line_with_time_level_message_and_extra_keys(
    stream: io.StringIO,
) -> None:
    logger.info(
        "attempt recorded",
        extra={"lateness_ms": 12, "status": 200, "state": "DELIVERED", "message_id": "msg_1"},
    )
    [line] = lines(stream)
    assert re.fullmatch(
        rf"{TIME} INFO    attempt recorded "
        r"message_id=msg_1 state=DELIVERED status=200 lateness_ms=12",
        line,
    )


def test_flow_keys_and_other_extras_are_shown_and_quoted_when_needed(
    stream: io.StringIO,
) -> None:
    logger.warning(
        "step sent", extra={"reason": "kill switch on", "step_id": "s1", "flow_id": "f1"}
    )
    [line] = lines(stream)
    assert line.endswith('WARNING step sent flow_id=f1 step_id=s1 reason="kill switch on"')


def test_lambda_context_keys_are_left_out(stream: io.StringIO) -> None:
    @logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
    def handler(event: dict[str, Any], context: Any) -> None:
        logger.info("handled", extra={"message_id": "msg_2"})

    handler({"requestContext": {"requestId": "req-1"}}, LocalContext(function_name="f"))
    [line] = lines(stream)
    assert re.fullmatch(rf"{TIME} INFO    handled message_id=msg_2", line)


def test_an_exception_keeps_its_traceback_under_the_line(stream: io.StringIO) -> None:
    try:
        int("bad input")
    except ValueError:
        logger.exception("request failed", extra={"error_type": "ValueError"})
    first, *rest = lines(stream)
    assert re.fullmatch(rf"{TIME} ERROR   request failed error_type=ValueError", first)
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: invalid literal for int() with base 10: 'bad input'"


def test_request_line_format() -> None:
    assert console.request_line("POST", "/v2/publish/https://example.com", 201, 3.44) == (
        "POST /v2/publish/https://example.com 201 3.4 ms"
    )


def test_the_gateway_logs_one_line_per_request(stream: io.StringIO) -> None:
    def ok(_: dict[str, Any], __: Any) -> dict[str, Any]:
        return {"statusCode": 404, "body": '{"error": "no route"}'}

    server = serve(ok, host="127.0.0.1", port=0, log_request=console.log_request)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        httpx.get(f"http://127.0.0.1:{port}/v2/nothing?qstash_token=secret", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    [line] = lines(stream)
    assert re.fullmatch(rf"{TIME} INFO    GET /v2/nothing 404 \d+\.\d ms", line)


def test_metrics_are_not_printed(stream: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="delivered", unit=MetricUnit.Count, value=1)

    try:
        handler({}, LocalContext(function_name="f"))
    finally:
        metrics.clear_metrics()  # disabled flushes keep them; don't leak into other tests
    assert os.environ["POWERTOOLS_METRICS_DISABLED"] == "true"
    assert "_aws" not in capsys.readouterr().out


def test_only_the_no_metrics_warning_is_silenced(stream: io.StringIO) -> None:
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> None:
        pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        console.install(stream)  # its filter goes first, as it would at start-up
        handler({}, LocalContext(function_name="f"))
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else"]


def test_an_explicit_metrics_choice_wins(stream: io.StringIO) -> None:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
    console.install(stream)
    assert os.environ["POWERTOOLS_METRICS_DISABLED"] == "false"
