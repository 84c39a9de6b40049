"""The events CodePipeline puts on the account's default bus, and putting them there through moto.

(Not ``events.py``: the package's control API has a function ``events()``, the journal of what was put.)

``detail`` renders what CodePipeline's "Pipeline / Stage / Action Execution State Change" events carry (source
``aws.codepipeline``, resources the pipeline ARN; detail ``pipeline``, ``execution-id``, ``start-time``,
``state``, ``version`` as a float, ``pipeline-execution-attempt`` 1.0, ``execution-trigger``; stage and action
events add ``stage``, action events ``action``, ``region``, ``type``, artifacts and ``execution-result``).
``emit`` puts one through moto's events backend (``EventsBackend.put_events``, the code behind PutEvents), so
moto's rules and targets route it exactly as a PutEvents call, and keeps it in the pipeline's journal.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from localworld.codepipeline.model import Execution, Run

log = logging.getLogger(__name__)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _artifacts(ex: Execution, declared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": a["name"], "s3location": {"bucket": ex.artifact_store, "key": ex.artifacts.get(a["name"], "")}}
            for a in declared]


def detail(ex: Execution, state: str, *, stage: str | None = None, run: Run | None = None) -> dict[str, Any]:
    """The event's ``detail`` for ``ex`` (and ``stage``, and ``run``) reaching ``state``, as things stand now."""
    pipe = ex.pipeline
    answer: dict[str, Any] = {"pipeline": pipe.name, "execution-id": ex.id, "start-time": _iso(ex.started)}
    if stage is not None:
        answer["stage"] = stage
    if run is not None:
        kind = run.action["actionTypeId"]
        answer.update({"action": run.name, "region": pipe.region,
                       "type": {"owner": kind["owner"], "provider": kind["provider"], "category": kind["category"],
                                "version": kind["version"]}})
        if state == "STARTED" and run.action.get("inputArtifacts"):
            answer["input-artifacts"] = _artifacts(ex, run.action["inputArtifacts"])
        if state == "SUCCEEDED" and run.action.get("outputArtifacts"):
            answer["output-artifacts"] = _artifacts(ex, run.action["outputArtifacts"])
        if state in ("SUCCEEDED", "FAILED"):
            result = {"external-execution-id": run.external_id, "external-execution-summary": run.summary,
                      "external-execution-url": run.external_url}
            if state == "FAILED":
                result["error-code"] = "JobFailed"
            answer["execution-result"] = {k: v for k, v in result.items() if v}
    answer.update({"state": state, "version": float(ex.version), "pipeline-execution-attempt": 1.0,
                   "execution-trigger": {"trigger-type": ex.trigger["triggerType"],
                                         "trigger-detail": ex.trigger.get("triggerDetail", "")}})
    return answer


def emit(ex: Execution, detail_type: str, state: str, *, stage: str | None = None, run: Run | None = None) -> None:
    """Put the event on the pipeline's account's default bus (a bus refusing it is logged, never raised: it must
    not wedge the pipeline) and append it to the pipeline's journal."""
    pipe = ex.pipeline
    rendered = detail(ex, state, stage=stage, run=run)
    entry = {"Source": "aws.codepipeline", "DetailType": detail_type, "Detail": json.dumps(rendered),
             "Resources": [pipe.arn], "Time": time.time()}
    event_id = None
    from moto.events.models import events_backends

    for attempt in range(3):
        try:
            event_id = events_backends[pipe.account][pipe.region].put_events([entry])[0].get("EventId")
            break
        except RuntimeError:  # a rule added by a concurrent request changed the bus mid-iteration: again
            if attempt == 2:
                log.exception("local CodePipeline: putting %s %s on the bus failed", detail_type, state)
        except Exception:  # the bus refusing an event must not wedge the pipeline
            log.exception("local CodePipeline: putting %s %s on the bus failed", detail_type, state)
            break
    pipe.journal.append({"id": event_id, "detail-type": detail_type, "detail": rendered})
