"""The test harness itself: the loopback guard bites, and the shared moto and Slack fixtures reset per test."""

from __future__ import annotations

import socket

import boto3
import pytest
from slack_sdk import WebClient

from chalicelib.state import audit


def _take(guard) -> list[str]:
    found = list(guard.violations)
    guard.violations.clear()  # handled here, so the autouse check does not fail this test
    return found


def test_connecting_to_a_non_loopback_address_is_refused(network_guard):
    with socket.socket() as sock, pytest.raises(network_guard.error, match="only reach loopback"):
        sock.connect(("10.255.255.1", 9))
    assert _take(network_guard) == ["10.255.255.1"]


def test_resolving_a_public_name_is_refused(network_guard):
    with pytest.raises(network_guard.error):
        socket.getaddrinfo("sts.amazonaws.com", 443)
    assert _take(network_guard) == ["sts.amazonaws.com"]


def test_a_boto3_client_pointed_at_aws_cannot_reach_it(network_guard):
    sts = boto3.client("sts", endpoint_url="https://sts.eu-west-1.amazonaws.com", region_name="eu-west-1")
    with pytest.raises(Exception):  # noqa: B017 - botocore may wrap it; the guard's record is what counts
        sts.get_caller_identity()
    assert "sts.eu-west-1.amazonaws.com" in _take(network_guard)


def test_loopback_is_allowed(moto_server, network_guard):
    assert "Account" in boto3.client("sts").get_caller_identity()
    assert network_guard.violations == []


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_an_empty_account(aws, run):
    assert list(audit.for_day("2026-11-21")) == []
    from datetime import UTC, datetime

    audit.record(action="t", target=f"run/{run}", outcome=audit.Outcome.SUCCEEDED, correlation_id="c",
                 capability="test", now=datetime(2026, 11, 21, tzinfo=UTC))
    assert len(list(audit.for_day("2026-11-21"))) == 1


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_a_fresh_slack(slack, run):
    assert slack.calls == []
    WebClient(token="xoxb-local-world", base_url=slack.api_url).chat_postMessage(channel="#ops", text=f"run {run}")
    assert [m.text for m in slack.messages("#ops")] == [f"run {run}"]
