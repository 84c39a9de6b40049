"""The compiled route tree and the pure function from labels to routes (Alertmanager's dispatch/route.go).

``compile(section)`` turns the YAML routes into ``Node``s whose options are fully resolved (inherited from the
parent, or the defaults). ``route(root, labels)`` walks it depth first: a node that matches tries its children
in order; the first child that matches stops the search unless it has ``continue: true``; a node none of whose
children matched is itself the match. The root matches everything, so every alert gets at least the default
receiver.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib import matchers as m
from chalicelib.alerts.policy import (
    ALL_LABELS,
    DEFAULT_GROUP_INTERVAL,
    DEFAULT_GROUP_WAIT,
    DEFAULT_REPEAT_INTERVAL,
    AlertsSection,
    Route,
)
from chalicelib.timefmt import duration, duration_text


@dataclass(frozen=True)
class Escalation:
    after: timedelta
    receivers: tuple[str, ...]
    repeat: int


@dataclass(frozen=True)
class Options:
    receiver: str
    group_by: tuple[str, ...] | None  # None: every label ("...")
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    escalation: Escalation | None
    mute_time_intervals: tuple[str, ...]


@dataclass(frozen=True)
class Node:
    path: str  # its place in the policy: "route", "route.routes[0]", ...
    matchers: tuple[m.Matcher, ...]
    continue_: bool
    options: Options
    children: tuple[Node, ...]

    def describe(self) -> str:
        return m.describe(self.matchers)


def compile(section: AlertsSection) -> Node | None:  # noqa: A001 - the word Alertmanager uses
    if section.route is None:
        return None
    root = section.route
    defaults = Options(receiver=root.receiver or "", group_by=(), group_wait=duration(DEFAULT_GROUP_WAIT),
                       group_interval=duration(DEFAULT_GROUP_INTERVAL),
                       repeat_interval=duration(DEFAULT_REPEAT_INTERVAL), escalation=None, mute_time_intervals=())
    return _node(root, "route", defaults)


def _node(route: Route, path: str, parent: Options) -> Node:
    group_by = parent.group_by
    if route.group_by is not None:
        group_by = None if ALL_LABELS in route.group_by else tuple(route.group_by)
    escalation = parent.escalation
    if route.escalation is not None:
        escalation = Escalation(duration(route.escalation.after), tuple(route.escalation.receivers),
                                route.escalation.repeat)
    options = Options(
        receiver=route.receiver or parent.receiver,
        group_by=group_by,
        group_wait=duration(route.group_wait) if route.group_wait else parent.group_wait,
        group_interval=duration(route.group_interval) if route.group_interval else parent.group_interval,
        repeat_interval=duration(route.repeat_interval) if route.repeat_interval else parent.repeat_interval,
        escalation=escalation,
        mute_time_intervals=tuple(route.mute_time_intervals),
    )
    children = tuple(_node(child, f"{path}.routes[{i}]", options) for i, child in enumerate(route.routes))
    return Node(path, m.parse_all(route.matchers), route.continue_, options, children)


def route(node: Node, labels: Mapping[str, str]) -> list[Node]:
    """The routes an alert with these labels goes to, in tree order (empty only if ``node`` does not match)."""
    if not m.match_all(node.matchers, labels):
        return []
    found: list[Node] = []
    for child in node.children:
        matched = route(child, labels)
        found.extend(matched)
        if matched and not child.continue_:
            break
    return found or [node]


def chain(root: Node, target: Node) -> list[Node]:
    """The nodes from the root down to ``target`` (for showing the path an alert took)."""
    if root is target:
        return [root]
    for child in root.children:
        below = chain(child, target)
        if below:
            return [root, *below]
    return []


def group_labels(node: Node, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that identify the alert's group on this route (only those the alert has; ``alertname`` and
    ``env`` through their aliases, as matchers read them)."""
    names = sorted(labels) if node.options.group_by is None else node.options.group_by
    found = {name: m.lookup(labels, name) for name in names}
    return {name: value for name, value in found.items() if value is not None}


def group_key(node: Node, labels: Mapping[str, str]) -> str:
    """Alertmanager's group key: the route plus the group labels, e.g. ``route.routes[0]:{alarm="web-5xx"}``."""
    found = group_labels(node, labels)
    return node.path + ":{" + ",".join(f"{k}={found[k]!r}" for k in sorted(found)) + "}"


def group_hash(key: str) -> str:
    """The short, typeable part of an incident id (10 hex characters of SHA-256 of the group key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:10]


# ---- `switchboard routes test`: where would this alert go? ----

_compiled: dict[int, tuple[AlertsSection, Node | None]] = {}


def tree(section: AlertsSection) -> Node | None:
    """``compile`` once per section object (policies are loaded once per cold start)."""
    found = _compiled.get(id(section))
    if found is None or found[0] is not section:
        found = (section, compile(section))
        _compiled[id(section)] = found
    return found[1]


def explain(section: AlertsSection, labels: Mapping[str, str]) -> dict[str, Any]:
    """What ``amtool config routes test`` answers, as data: each matched route's path and options."""
    root = tree(section)
    if root is None:
        return {"labels": dict(labels), "routes": [], "receivers": []}
    matched = route(root, labels)
    routes = []
    for node in matched:
        opts = node.options
        routes.append({
            "route": node.path,
            "path": [n.describe() for n in chain(root, node)],
            "receiver": opts.receiver,
            "group_by": ["..."] if opts.group_by is None else list(opts.group_by),
            "group_key": group_key(node, labels),
            "group_wait": duration_text(opts.group_wait), "group_interval": duration_text(opts.group_interval),
            "repeat_interval": duration_text(opts.repeat_interval),
            "escalation": None if opts.escalation is None else {
                "after": duration_text(opts.escalation.after), "receivers": list(opts.escalation.receivers),
                "repeat": opts.escalation.repeat},
            "mute_time_intervals": list(opts.mute_time_intervals),
        })
    receivers = list(dict.fromkeys(r["receiver"] for r in routes))
    return {"labels": dict(labels), "routes": routes, "receivers": receivers}
