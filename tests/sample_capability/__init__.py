"""A sample capability that lives in the test suite only (tests/test_adding_a_capability.py installs it): the
files docs/ARCHITECTURE.md's "Adding a capability" asks for, each as small as it can be.

    manifest.py     the declaration: name, section, kinds, command, tick, the modules that register the rest
    policy.py       its policy section (``sample: {greeting: ...}``)
    handlers.py     its event handler: ECS events (after promotion's)
    commands.py     its /ops command: ``sample <word> [in <env>]``
    ticks.py        its tick (``sample_tick``, every ten minutes)
    permissions.py  the IAM statements its entry points need
"""
