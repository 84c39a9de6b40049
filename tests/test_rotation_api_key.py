"""API keys whose consumer is told through a webhook (a real HTTP server on loopback: the local world's consumer):
set and test call it, a retried set does nothing twice, a consumer that does not accept the new key fails
testSecret and leaves AWSCURRENT as it was, and a webhook that is not https or redirects is refused."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.rotation.exceptions import Refused
from chalicelib.rotation.kinds import api_key
from localworld.rotation_story import Consumer
from tests.test_rotation_kit import Crash, crash_after, secrets_world, use_policy

POLICY = {"secrets": {"web/api-key": {"kind": "api-key", "webhook_secret": "web/api-key-consumer"}}}


@pytest.fixture
def consumer():
    running = Consumer()
    yield running
    running.stop()


@pytest.fixture
def world(aws, monkeypatch, tmp_path, consumer):
    use_policy(monkeypatch, tmp_path, "stage", POLICY)
    world = secrets_world(aws.url)
    world.create("web/api-key-consumer", {"url": consumer.url, "token": consumer.token})
    consumer.keys = {"k0"}
    world.arn = world.create("web/api-key", {"key": "k0"})
    return world


def test_the_consumer_is_told_the_new_key_and_accepts_it(world, consumer):
    report = world.rotate(world.arn)
    assert report.ok, report.error
    assert [d["outcome"] for d in report.done] == ["created", "set", "tested", "finished"]
    new = world.value(world.arn)["key"]
    assert consumer.keys == {"k0", new}
    assert consumer.calls == ["test", "set", "test"]  # set asks first whether the key already works


def test_a_retried_set_does_not_tell_the_consumer_twice(world, consumer, monkeypatch):
    pending = world.start(world.arn)
    assert world.drive(world.arn, pending, ("createSecret",)).ok
    crash_after(monkeypatch, api_key.ApiKey, "apply")
    with pytest.raises(Crash):
        world.step(world.arn, pending, "setSecret")
    assert world.step(world.arn, pending, "setSecret")["outcome"] == "already works"
    assert consumer.calls.count("set") == 1
    assert world.drive(world.arn, pending, ("testSecret", "finishSecret")).ok


def test_a_consumer_that_does_not_accept_the_key_fails_test_and_current_stays(world, consumer, monkeypatch):
    pending = world.start(world.arn)
    assert world.drive(world.arn, pending, ("createSecret", "setSecret")).ok
    consumer.keys = {"k0"}  # it forgot the new key (a deploy, a restart...)
    report = world.drive(world.arn, pending, ("testSecret", "finishSecret"))
    assert report.failed_step == "testSecret"
    assert report.error == "the consumer of web/api-key does not accept the new key"
    assert world.value(world.arn) == {"key": "k0"} and world.stages(world.arn)[pending] == ["AWSPENDING"]


def test_a_webhook_that_refuses_the_set_fails_it(world, consumer):
    consumer.token = "rotated-elsewhere"  # noqa: S105 - the webhook secret no longer matches
    report = world.rotate(world.arn)
    assert report.failed_step == "setSecret" and report.error == "the webhook of web/api-key refused the new key (401)"


def test_a_webhook_that_is_down_fails_clearly(world, consumer):
    consumer.stop()
    report = world.rotate(world.arn)
    assert report.failed_step == "setSecret"
    assert report.error.startswith("the webhook of web/api-key did not answer: ")


@pytest.mark.parametrize(("hook", "message"), [
    ({"url": "http://api.example/keys", "token": "t"}, "the webhook of web/api-key is not https"),
    ({"url": "ftp://127.0.0.1/keys", "token": "t"}, "the webhook of web/api-key is not https"),
    ({"url": "https://api.example/keys"}, "the webhook secret web/api-key-consumer is not"),
    ({"url": "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", "token": "t"},
     "the webhook of web/api-key names the Lambda runtime API (127.0.0.1)"),
    ({"url": "https://169.254.169.254/latest/api/token", "token": "t"},
     "the webhook of web/api-key names the instance metadata service (169.254.169.254)"),
    ({"url": "https://user:pw@api.example/keys", "token": "t"}, "the webhook of web/api-key has a user or password"),
])
def test_webhook_secrets_are_checked(world, hook, message):
    world.sm.put_secret_value(SecretId="web/api-key-consumer", SecretString=json.dumps(hook))
    report = world.rotate(world.arn)
    assert report.failed_step == "setSecret" and report.error.startswith(message)
    assert world.value(world.arn) == {"key": "k0"}


def test_a_redirect_is_not_followed(world):
    seen = []

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            seen.append(self.path)
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:9/steal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        world.sm.put_secret_value(SecretId="web/api-key-consumer", SecretString=json.dumps(
            {"url": f"http://127.0.0.1:{server.server_address[1]}/keys", "token": "t"}))
        report = world.rotate(world.arn)
    finally:
        server.shutdown()
        server.server_close()
    assert report.failed_step == "setSecret" and report.error == "the webhook of web/api-key answered 307 to a test"
    assert seen == ["/keys"]


def test_the_kind_refuses_pending_values_of_another_shape():
    from chalicelib.rotation.kinds.base import Target
    from chalicelib.rotation.policy import RotationSection
    from chalicelib.rotation.secrets import SecretStore

    target = Target("arn", "k", RotationSection().effective("k", {}), SecretStore(client=object()))
    kind = api_key.ApiKey(target)
    with pytest.raises(Refused, match="does not have the current value's shape"):
        kind.check_pending({"key": "a"}, "b")
    kind.check_pending({"key": "a", "x": 1}, {"key": "b", "x": 1})  # only the key differs: fine
    with pytest.raises(Refused, match="changes x, not only 'key'"):
        kind.check_pending({"key": "a", "x": 1}, {"key": "b", "x": 2})


def test_a_rotation_token_is_passed_to_put_secret_value(aws, monkeypatch, tmp_path):
    from chalicelib import aws as clients
    from chalicelib.rotation import rotator

    use_policy(monkeypatch, tmp_path, "stage")
    world = secrets_world(aws.url)
    arn = world.create("ops/token", {"key": "k0"}, kind="api-key")
    pending = world.start(arn)
    client = clients.client("secretsmanager")
    sent = []
    real = client.put_secret_value
    monkeypatch.setattr(client, "put_secret_value", lambda **kw: sent.append(kw) or real(**kw))
    rotation_token = "0b7d5e4c-2f1a-4c8e-9d3b-6a5f4e3d2c1b"
    rotator.handle({"SecretId": arn, "ClientRequestToken": pending, "Step": "createSecret",
                    "RotationToken": rotation_token}, None)
    assert sent[0]["RotationToken"] == rotation_token and sent[0]["VersionStages"] == ["AWSPENDING"]
