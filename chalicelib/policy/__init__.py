"""Policy as data: one versioned YAML per deployment stage, validated in full before it is deployed.

    types.py       the schema's vocabulary (names, durations, roles, ``Strict``, ``Section``)
    schema.py      the document's own pieces: core (version, account, peers), apps, slack, freezes
    limits.py      the limits section (read by infra/package.py)
    document.py    the whole ``Policy``: those pieces and each installed capability's section (its manifest)
    references.py  cross-references, each dangling one reported with its path
    loader.py      ``load``, ``parse``, ``validate_file``, ``warnings_of``, ``current()`` (lazy inside Lambda)

Nothing is imported here: a capability's section imports ``types`` without loading the loader or the document.
"""
