"""The sample capability's policy section."""

from __future__ import annotations

from pydantic import Field

from chalicelib.policy.types import Section


class SampleSection(Section):
    greeting: str = Field("hello", min_length=1, max_length=20)
