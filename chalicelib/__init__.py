"""Switchboard: everything that is deployed to Lambda lives in this package.

One package per capability (``promotion``, ``alerts``, ``scaling``, ``rotation``, ``frontdoor``), the Slack
platform they talk to people through (``slackkit``, ``decisions``), plus the
shared foundation: ``settings`` (environment), ``aws`` (the only place boto3 clients are built), ``policy``
(versioned YAML validated by pydantic), ``state`` (PynamoDB models, audit log, event ledger) and ``intake``
(typed EventBridge events, once-only processing, dispatch to capabilities).
"""
