"""Deploy promotion: a candidate that succeeded in one environment moves to the next, gated, approved, watched.

See docs/ARCHITECTURE.md ("Promotion") for the state machine and how the source and target accounts share it.
"""
