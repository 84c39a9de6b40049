"""The sample capability's /ops command: ``sample <word> [in <env>]`` answers with its policy's greeting."""

from __future__ import annotations

from chalicelib.policy.schema import Policy
from chalicelib.slackkit.commands import Answer, Asked, Command, executes


@executes("sample")
def sample(cmd: Command, environment: str, asked: Asked, current: Policy) -> Answer:
    return Answer(f"{current.sample.greeting} {cmd.args['word']} from {environment}")


def wave(action_id: str, value: str) -> str | None:
    """The command the sample's ``sample_wave`` button stands for (a card would carry the word as its value)."""
    return f"sample {value}" if value.isalpha() else None
