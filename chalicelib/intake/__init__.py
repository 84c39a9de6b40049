"""Event intake: typed events, once-only processing, dispatch to the capability that owns them."""

from chalicelib.intake.events import Kind
from chalicelib.intake.pipeline import entry, handle

__all__ = ["Kind", "entry", "handle"]
