"""Policy as data: one versioned YAML per deployment stage, validated in full before it is deployed.

``current()`` loads the file named by ``SWITCHBOARD_POLICY_FILE`` once per process. Every problem is reported as
``path: message (line N)``, and no part of an invalid policy is ever acted on.

Where what is validated (a deliberate choice, for the cold start):

* In full, every section and every problem at once: ``load``, ``parse``, ``validate_file`` (``switchboard policy
  validate``, CI, tests) and ``current()`` outside Lambda. That includes ``chalice deploy``/``package``/``local``:
  they import app.py, which calls ``current()``, with the stage's environment (``AWS_CHALICE_CLI_MODE`` set). So
  a policy with an error anywhere is never deployed: the policy is packaged with the app it was validated with.
* Lazily, in ``current()`` inside Lambda (``Settings.in_lambda``: ``LAMBDA_TASK_ROOT`` set, not the Chalice
  CLI), at every cold start: the YAML pass (syntax, duplicate keys, unknown top-level keys) and the core
  (``PolicyCore``: version, account, peers; app.py builds the peer event pattern from them) at once; each other
  section (apps, slack, alerts, promotion, scaling, rotation, freezes, limits) when a handler first reads it, shape then
  references, then kept for the life of the process. A section with a problem raises, on every read, the same
  ``PolicyError`` (paths, lines) a full load reports for it, and is never kept; so is a section whose check
  needs a bad one. Other sections keep working; but that cannot happen to a deployed policy (see above).

Why: building and running the validators of every capability's models (the alerts route tree above all), plus
the pure-Python YAML parser, took about 70 ms of a 270 ms cold start, paid by every function for sections most
never read. Now the schema's models are built on first use (``defer_build`` in ``types.Strict``), the YAML is
parsed by libyaml, and a cold start validates only the core (a few ms); an invocation pays for the sections it
reads, once per container.
"""

from __future__ import annotations

from functools import lru_cache

from chalicelib.policy.loader import PolicyError, Problem, load, parse, validate_file, warnings_of
from chalicelib.policy.schema import Flow, Policy
from chalicelib.settings import get_settings

__all__ = ["Flow", "Policy", "PolicyError", "Problem", "current", "load", "parse", "validate_file", "warnings_of"]


@lru_cache(maxsize=1)
def current() -> Policy:
    settings = get_settings()
    policy = load(settings.policy_path, lazy=settings.in_lambda)
    if policy.account.name != settings.account_name:
        raise PolicyError(str(settings.policy_path), [Problem(
            None, "account.name",
            f"policy is for account '{policy.account.name}' but this stage is '{settings.account_name}'")])
    return policy
