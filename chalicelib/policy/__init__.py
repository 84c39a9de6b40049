"""Policy as data: one versioned YAML per deployment stage, validated at cold start.

``current()`` loads and validates the file named by ``SWITCHBOARD_POLICY_FILE`` once per process; an invalid
policy fails the cold start loudly rather than acting on half a configuration.
"""

from __future__ import annotations

from functools import lru_cache

from chalicelib.policy.loader import PolicyError, Problem, load, parse, validate_file
from chalicelib.policy.schema import Flow, Policy
from chalicelib.settings import get_settings

__all__ = ["Flow", "Policy", "PolicyError", "Problem", "current", "load", "parse", "validate_file"]


@lru_cache(maxsize=1)
def current() -> Policy:
    settings = get_settings()
    policy = load(settings.policy_path)
    if policy.account.name != settings.account_name:
        raise PolicyError(str(settings.policy_path), [Problem(
            None, "account.name",
            f"policy is for account '{policy.account.name}' but this stage is '{settings.account_name}'")])
    return policy
