"""The console's one base error, and the ways signing in can fail."""

from __future__ import annotations


class ConsoleError(Exception):
    """Something the console cannot do; ``str()`` is a one-line reason fit to show."""


class BadRecord(ConsoleError):
    """A feed record that does not describe one entity of the sending account."""


class SignInFailed(ConsoleError):
    """The OpenID Connect sign-in did not prove who the person is (state, nonce, signature, issuer, audience...)."""


class NotConfigured(ConsoleError):
    """The console lacks a setting or secret it needs (named in the message)."""
