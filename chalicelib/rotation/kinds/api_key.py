"""A random API key or token. Its consumer either reads the secret each time (set/test have nothing to do), or
is told about the new key through a webhook named in policy (``webhook_secret``: a secret holding
``{"url": "https://…", "token": "…"}``).

The webhook contract (JSON bodies, 2xx = yes):

    POST <url>  {"action": "set",  "secret": <name>, "version": <id>, "key": <new key>}
                Authorization: Bearer <webhook token>        the consumer accepts <new key> besides the current one
    POST <url>  {"action": "test", "secret": <name>, "version": <id>}
                Authorization: Bearer <key being tested>     2xx if the consumer accepts that key, 401/403 if not

setSecret asks "test" first and returns if the new key already works (a retried step). Calls go through the
outbound adapter (``chalicelib.outbound``): the URL must be https to a public address, checked after DNS (plain
http only on loopback, for the local world); redirects are not followed (a redirect must not carry a key).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from chalicelib import outbound
from chalicelib.rotation.exceptions import Malformed, Refused, TargetRejected
from chalicelib.rotation.kinds.base import Kind, Value
from chalicelib.rotation.policy import SecretKind
from chalicelib.rotation.secrets import AWSCURRENT

DEFAULT_LENGTH = 40
CONNECT_SECONDS = 5
TIMEOUT_SECONDS = 10


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address (postgres.py's local-world check uses it too)."""
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class ApiKey(Kind):
    kind = SecretKind.API_KEY

    def __init__(self, target: Any):
        super().__init__(target)
        self._webhook: dict[str, str] | None = None

    # ---- values: a JSON object with the key in `key_field`, or (key_field "") the whole string ----

    def parse(self, text: str) -> Value:
        if not self.settings.key_field:
            return text
        value = super().parse(text)
        if not isinstance(value.get(self.settings.key_field), str):
            raise Malformed(f"{self.target.name} has no '{self.settings.key_field}' field")
        return value

    def key(self, value: Value) -> str:
        return value if isinstance(value, str) else value[self.settings.key_field]

    def generate(self, current: Value) -> Value:
        new = self.target.store.random(self.settings.length or DEFAULT_LENGTH, exclude_punctuation=True)
        return new if isinstance(current, str) else {**current, self.settings.key_field: new}

    def check_pending(self, current: Value, pending: Value) -> None:
        if isinstance(current, str) != isinstance(pending, str):
            raise Refused(f"the pending value of {self.target.name} does not have the current value's shape")
        if isinstance(current, dict):
            changed = sorted(k for k in set(current) | set(pending)
                             if k != self.settings.key_field and current.get(k) != pending.get(k))
            if changed:
                raise Refused(f"the pending value of {self.target.name} changes {', '.join(changed)}, "
                              f"not only '{self.settings.key_field}'")

    # ---- the consumer ----

    def webhook(self) -> dict[str, str] | None:
        name = self.settings.webhook_secret
        if name is None:
            return None
        if self._webhook is None:
            found = self.target.store.value(name, AWSCURRENT)
            if found is None:
                raise Malformed(f"the webhook secret {name} of {self.target.name} has no current value")
            try:
                hook = json.loads(found.text)
            except ValueError:
                hook = None
            if not isinstance(hook, dict) or not isinstance(hook.get("url"), str) or not isinstance(
                    hook.get("token"), str):
                raise Malformed(f"the webhook secret {name} is not {{\"url\": …, \"token\": …}}")
            try:
                outbound.check(hook["url"])
            except outbound.Refused as exc:
                raise Refused(f"the webhook of {self.target.name} {exc}") from None
            self._webhook = {"url": hook["url"], "token": hook["token"]}
        return self._webhook

    def _post(self, body: dict[str, Any], bearer: str) -> int:
        hook = self.webhook()
        assert hook is not None
        try:
            answer = outbound.request("POST", hook["url"], body=json.dumps(body).encode(),
                                      headers={"Content-Type": "application/json", "Authorization": f"Bearer {bearer}",
                                               "User-Agent": "switchboard-rotation"},
                                      connect_timeout=CONNECT_SECONDS, read_timeout=TIMEOUT_SECONDS, read_body=False)
        except outbound.Refused as exc:  # its host resolves to an address Switchboard never calls
            raise Refused(f"the webhook of {self.target.name} {exc}") from None
        except outbound.Unreachable as exc:  # one clear reason, no key in it (the adapter never puts the body in one)
            raise TargetRejected(f"the webhook of {self.target.name} did not answer: {exc}") from None
        return answer.status

    def works(self, value: Value) -> bool:
        if self.webhook() is None:
            return True  # the consumer reads the secret each time: any stored key is the key
        status = self._post({"action": "test", "secret": self.target.name, "version": self.target.version},
                            self.key(value))
        if 200 <= status < 300:
            return True
        if status in (401, 403):
            return False
        raise TargetRejected(f"the webhook of {self.target.name} answered {status} to a test")

    def apply(self, current: Value, pending: Value, previous: Value | None) -> None:
        hook = self.webhook()
        if hook is None:
            return
        status = self._post({"action": "set", "secret": self.target.name, "version": self.target.version,
                             "key": self.key(pending)}, hook["token"])
        if not 200 <= status < 300:
            raise TargetRejected(f"the webhook of {self.target.name} refused the new key ({status})")

    def prove(self, pending: Value) -> None:
        if not self.works(pending):
            raise TargetRejected(f"the consumer of {self.target.name} does not accept the new key")
