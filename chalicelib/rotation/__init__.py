"""Secret rotation: Secrets Manager rotation functions for several kinds of secret behind one protocol, a daily
watch on every secret of the account, rotation outcomes announced in Slack, and `/ops rotate`.

    policy.py     the policy section (kinds, ages, KMS, webhooks, groups)   exceptions.py  one base error
    secrets.py    the Secrets Manager adapter (explicit VersionStage)        protocol.py    entry checks + 4 steps
    store.py      its items in the state table (IAM key began, stuck asked)  manifest.py    the capability, declared
    kinds/        api key, PostgreSQL (single / alternating users), IAM access key
    gates.py      may a rotation start now? (freezes, groups, kill switch)   rotator.py     the Lambda function
    watch.py      daily findings, stuck AWSPENDING cleared after a click     handlers.py    CloudTrail outcomes
    commands.py   `/ops rotate`                                              decisions.py   approvals' verdicts
"""
