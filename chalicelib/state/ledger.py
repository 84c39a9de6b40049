"""The event ledger: an EventBridge event id is processed once per handler, however often it is delivered.

This is Powertools Idempotency with its DynamoDB persistence layer, not a hand-rolled table. The idempotency
key is ``"<kind>:<event id>"``, so the same event reaching two different handlers is processed by each once.
Timeline of one key (what Powertools does with conditional writes):

    first delivery:  put INPROGRESS (condition: absent or expired) -> run -> update COMPLETED + result
    duplicate:       put fails (COMPLETED) -> stored result is returned, nothing runs again
    concurrent dup:  put fails (INPROGRESS) -> IdempotencyAlreadyInProgressError -> Lambda retries later
    handler raised:  record deleted -> the retry runs again (a half-done event is never marked done)

Records expire (DynamoDB TTL on ``expiration``) after SWITCHBOARD_LEDGER_TTL_SECONDS, well past
EventBridge's 24-hour retry window.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from chalicelib import aws
from chalicelib.settings import get_settings

__all__ = ["once", "reset"]


@lru_cache(maxsize=1)
def _store_and_config() -> tuple[Any, Any]:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    settings = get_settings()
    store = DynamoDBPersistenceLayer(table_name=settings.ledger_table, boto3_client=aws.client("dynamodb"))
    config = IdempotencyConfig(
        event_key_jmespath="id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.ledger_ttl_seconds,
    )
    return store, config


def once(function: Callable[..., dict], *, context: Any = None,
         on_in_progress: Callable[[], None] | None = None) -> Callable[..., dict]:
    """Wrap ``function(data=...)`` so it runs once per ``data["id"]``; duplicates get the stored result.

    A delivery that finds the same id in progress elsewhere raises (so Lambda retries it later), after calling
    ``on_in_progress``. Powertools is imported here, not at module import: it is a large share of cold start.
    """
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    store, config = _store_and_config()
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)
    wrapped = idempotent_function(
        function, data_keyword_argument="data", persistence_store=store, config=config,
        key_prefix="switchboard.intake",
    )

    def run(**kwargs: Any) -> dict:
        try:
            return wrapped(**kwargs)
        except IdempotencyAlreadyInProgressError:
            if on_in_progress is not None:
                on_in_progress()
            raise

    return run


def reset() -> None:
    _store_and_config.cache_clear()
