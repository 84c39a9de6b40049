"""Powertools Logger and Metrics shared by every handler.

Logger writes JSON with the EventBridge event id as correlation id; Metrics writes CloudWatch EMF under the
``Switchboard`` namespace. Tracer is deliberately not used: importing the X-Ray SDK costs a large share of
cold start for traces of a handful of DynamoDB calls (see bench/cold_start.py and docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# At DEBUG, botocore's parser logs every response body, GetSecretValue's SecretString included. Whatever level
# an operator turns logging to, secrets must not reach a log: these loggers stay at INFO.
for _name in ("botocore.parsers", "botocore.endpoint"):
    logging.getLogger(_name).setLevel(logging.INFO)

logger = Logger(service="switchboard")
metrics = Metrics(namespace="Switchboard", service="switchboard")

__all__ = ["logger", "metrics", "MetricUnit"]
