"""chalicelib.aws is the only client factory: lazy, cached, adaptive retries, honours AWS_ENDPOINT_URL."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

from chalicelib import aws as clients

CHALICELIB = Path(__file__).resolve().parent.parent / "chalicelib"


def test_importing_the_app_builds_no_client(monkeypatch):
    import boto3.session

    built = []
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, *a, **k: built.append(a) or None)
    clients.reset()
    sys.modules.pop("app", None)
    importlib.import_module("app")
    assert built == [] and clients._clients == {}


def test_clients_are_cached_and_honour_the_endpoint(aws):
    dynamodb = clients.client("dynamodb")
    assert dynamodb is clients.client("dynamodb")
    assert clients.client("dynamodb", region="us-east-1") is not dynamodb
    assert dynamodb.meta.endpoint_url == aws.url
    assert dynamodb.meta.config.retries["mode"] == "adaptive"
    assert dynamodb.meta.config.retries["total_max_attempts"] == 6  # botocore: max_attempts retries + 1
    assert dynamodb.meta.region_name == "eu-west-1"
    assert "TableNames" in dynamodb.list_tables()


def test_no_other_module_builds_a_client():
    offenders = []
    for path in CHALICELIB.rglob("*.py"):
        if path.name == "aws.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "client", "resource", "Session") and isinstance(node.func.value, ast.Name) and \
                    node.func.value.id in ("boto3", "session", "_session"):
                offenders.append(f"{path.relative_to(CHALICELIB)}:{node.lineno}")
    assert offenders == []
