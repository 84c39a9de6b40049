"""The policy document as a whole: assembled from the schema's own pieces and each capability's section.

The document reads, in this order: the core (version, account, peers), ``apps``, ``slack``, then the section of
each installed capability that has one (its manifest's ``section``, under the capability's name, in the order of
``capabilities.INSTALLED``), then ``freezes`` and ``limits``. That is also the order problems are reported in and
sections are validated in a lazily loaded policy.

This is the one module of the policy package that knows the capabilities (through their manifests); the schema,
the types and the capabilities' sections never import it, so no section waits for another to be imported.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field, create_model

from chalicelib import capabilities
from chalicelib.manifest import Manifest
from chalicelib.policy.limits import LimitsSection
from chalicelib.policy.schema import App, Freeze, Name, SlackSection
from chalicelib.policy.schema import Policy as Base


def assemble(manifests: Iterable[Manifest]) -> type[Base]:
    """The ``Policy`` type of a document holding these capabilities' sections."""
    sections = {m.name: (m.section, Field(default_factory=m.section)) for m in manifests if m.section is not None}
    return create_model(  # type: ignore[call-overload]
        "Policy", __base__=Base, __module__=__name__, __doc__=Base.__doc__,
        apps=(dict[Name, App], Field(default_factory=dict)),
        slack=(SlackSection, Field(default_factory=SlackSection)),
        **sections,
        freezes=(tuple[Freeze, ...], ()),
        limits=(LimitsSection, Field(default_factory=LimitsSection)),  # read by infra/package.py only
    )


Policy = assemble(capabilities.INSTALLED)
# Validated on first read in a lazily loaded policy: every field but the core's.
LAZY_SECTIONS = Policy.lazy_sections()
