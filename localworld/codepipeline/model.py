"""What the local CodePipeline keeps, as plain data: pipelines, executions, action runs, revisions, commits.

Nothing here locks, sleeps, calls moto or puts events: ``machine.py`` moves executions over these objects,
``scheduler.py`` owns them (under one lock) and ``api.py`` answers CodePipeline's API from them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"})
WORK_CATEGORIES = ("Build", "Deploy", "Test", "Invoke")
COMMIT_PROVIDERS = ("CodeStarSourceConnection", "CodeCommit", "GitHub", "Bitbucket")
REVISION_TYPES = {"CodeStarSourceConnection": {"COMMIT_ID"}, "CodeCommit": {"COMMIT_ID"}, "GitHub": {"COMMIT_ID"},
                  "Bitbucket": {"COMMIT_ID"}, "ECR": {"IMAGE_DIGEST"},
                  "S3": {"S3_OBJECT_VERSION_ID", "S3_OBJECT_KEY"}}


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # moto keeps naive UTC times


def epoch(value: datetime | None) -> float | None:
    return None if value is None else round(aware(value).timestamp(), 3)


@dataclass(frozen=True)
class Commit:
    id: str
    message: str
    author: str
    created: datetime


@dataclass(frozen=True)
class Revision:
    action: str  # the source action that fetches it
    type: str  # COMMIT_ID | IMAGE_DIGEST | S3_OBJECT_VERSION_ID | S3_OBJECT_KEY
    id: str
    change_id: str
    summary: str | None
    created: datetime | None
    url: str | None


@dataclass(eq=False)
class Run:
    """One action execution."""

    execution: Execution
    stage: str
    action: dict[str, Any]
    id: str
    started: datetime
    changed: datetime
    due: float | None = None  # monotonic time it ends; None: it waits for someone (a Manual approval)
    fail: str | None = None  # the summary of a planned failure
    status: str = "InProgress"  # InProgress | Succeeded | Failed | Abandoned
    summary: str | None = None
    token: str | None = None
    updated_by: str | None = None
    external_id: str | None = None
    external_url: str | None = None

    @property
    def name(self) -> str:
        return self.action["name"]

    @property
    def category(self) -> str:
        return self.action["actionTypeId"]["category"]

    @property
    def approval(self) -> bool:
        return self.category == "Approval"


@dataclass(eq=False)
class Execution:
    pipeline: Pipeline
    id: str
    version: int
    stages: list[dict[str, Any]]  # the declaration when it started
    mode: str
    trigger: dict[str, str]
    variables: list[dict[str, str]]
    revisions: dict[str, Revision]  # source action -> what it fetches
    artifact_store: str  # the S3 bucket of the pipeline's artifacts
    started: datetime
    updated: datetime
    status: str = "InProgress"
    summary: str | None = None
    stop_reason: str | None = None
    stage_index: int = 0
    group: int = 0
    waiting: bool = False  # at the inbound transition of stages[stage_index]
    runs: list[Run] = field(default_factory=list)  # the current runOrder group
    fetched: list[str] = field(default_factory=list)  # source actions done: their revisions are reported
    succeeded_stages: set[str] = field(default_factory=set)
    artifacts: dict[str, str] = field(default_factory=dict)  # artifact name -> S3 key

    @property
    def stage(self) -> str:
        return self.stages[self.stage_index]["name"]

    def awaits_approval_only(self) -> bool:
        running = [r for r in self.runs if r.status == "InProgress"]
        return bool(running) and all(r.approval for r in running)


@dataclass(eq=False)
class Pipeline:
    """What CodePipeline keeps about one pipeline besides its declaration (which stays moto's)."""

    account: str
    region: str
    name: str
    arn: str
    moto: Any  # moto's CodePipeline object: a new one (deleted and created again) means a new pipeline
    executions: dict[str, Execution] = field(default_factory=dict)  # oldest first
    tokens: dict[str, str] = field(default_factory=dict)  # clientRequestToken -> execution id
    heads: dict[str, Revision] = field(default_factory=dict)  # source action -> its branch head
    fail_next: dict[str, tuple[str, str]] = field(default_factory=dict)  # stage -> (action, summary)
    occupant: dict[str, str] = field(default_factory=dict)  # stage -> execution id in it
    queue: dict[str, list[str]] = field(default_factory=dict)  # stage -> execution ids at its transition
    stage_latest: dict[str, tuple[str, str]] = field(default_factory=dict)  # stage -> (execution id, status)
    action_latest: dict[tuple[str, str], Run] = field(default_factory=dict)
    approvals: dict[str, Run] = field(default_factory=dict)  # token -> approval run
    journal: list[dict[str, Any]] = field(default_factory=list)

    def last_fetched(self, action: str) -> Revision | None:
        for ex in reversed(self.executions.values()):
            if action in ex.fetched:
                return ex.revisions[action]
        return None


# ---- reading a declaration ----

def source_actions(declaration: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for stage in declaration["stages"] for a in stage["actions"]
            if a["actionTypeId"]["category"] == "Source"}


def orders(stage: dict[str, Any]) -> list[int]:
    return sorted({int(a.get("runOrder", 1)) for a in stage["actions"]})


def repository(action: dict[str, Any]) -> str:
    conf = action.get("configuration") or {}
    if conf.get("FullRepositoryId"):
        return conf["FullRepositoryId"]
    if conf.get("Owner") and conf.get("Repo"):
        return f"{conf['Owner']}/{conf['Repo']}"
    return conf.get("RepositoryName") or conf.get("RepositoryId") or action["name"]


def connection(action: dict[str, Any], account: str, region: str) -> str:
    conf = action.get("configuration") or {}
    return conf.get("ConnectionArn") or (f"arn:aws:codestar-connections:{region}:{account}:connection/"
                                         f"{uuid.uuid5(uuid.NAMESPACE_URL, repository(action))}")


# ---- what a source action fetches ----

def commit_revision(commits: dict[tuple[str, str], Commit], pipe: Pipeline, action: dict[str, Any],
                    commit_id: str) -> Revision:
    """The revision a commit-based source action reports for ``commit_id`` (``commits``: (repository, id) -> commit,
    shared by every account like a git host)."""
    repo = repository(action)
    commit = commits.get((repo, commit_id))
    message = commit.message if commit else ""
    provider = action["actionTypeId"]["provider"]
    region = pipe.region
    if provider == "CodeStarSourceConnection":
        summary = json.dumps({"ProviderType": "GitHub", "CommitMessage": message}, separators=(",", ":"))
        url = (f"https://{region}.console.aws.amazon.com/codesuite/settings/connections/redirect?connectionArn="
               f"{connection(action, pipe.account, region)}&referenceType=COMMIT&FullRepositoryId={repo}"
               f"&Commit={commit_id}")
    elif provider == "CodeCommit":
        summary = message
        url = (f"https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories/{repo}/commit/"
               f"{commit_id}?region={region}")
    else:
        summary, url = message, f"https://github.com/{repo}/commit/{commit_id}"
    return Revision(action["name"], "COMMIT_ID", commit_id, commit_id, summary,
                    commit.created if commit else None, url)


def initial_revision(commits: dict[tuple[str, str], Commit], pipe: Pipeline, action: dict[str, Any],
                     created: datetime) -> Revision:
    """The branch head of a source nobody pushed to yet: a stable made-up first commit (added to ``commits``,
    made at ``created``)."""
    provider = action["actionTypeId"]["provider"]
    if provider in COMMIT_PROVIDERS:
        repo = repository(action)
        commit_id = hashlib.sha1(f"{repo}:initial".encode()).hexdigest()  # noqa: S324 - an id, not security
        if (repo, commit_id) not in commits:
            commits[(repo, commit_id)] = Commit(commit_id, "Initial commit", "local-world", aware(created))
        return commit_revision(commits, pipe, action, commit_id)
    if provider == "ECR":
        digest = "sha256:" + hashlib.sha256(pipe.name.encode()).hexdigest()
        return Revision(action["name"], "IMAGE_DIGEST", digest, digest, f"Image digest {digest}", None, None)
    version = hashlib.md5(pipe.name.encode()).hexdigest()  # noqa: S324 - an id, not security
    return Revision(action["name"], "S3_OBJECT_VERSION_ID", version, version, f"Object version {version}",
                    None, None)
