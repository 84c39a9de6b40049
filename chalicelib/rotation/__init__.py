"""Secret rotation: Secrets Manager rotation functions for several kinds of secret behind one protocol, a daily
watch on every secret of the account, rotation outcomes announced in Slack, and `/ops rotate`.

    policy.py     the policy section (kinds, ages, KMS, webhooks, groups)   exceptions.py  one base error
    store.py      the Secrets Manager adapter (explicit VersionStage)        protocol.py    entry checks + 4 steps
    kinds/        api key, PostgreSQL (single / alternating users), IAM access key
    gates.py      may a rotation start now? (freezes, groups, kill switch)   rotator.py     the Lambda function
    watch.py      daily findings, stuck AWSPENDING cleared after a click     events.py      CloudTrail outcomes
    commands.py   `/ops rotate`                                              decisions.py   approvals' verdicts
"""

# The policy schema imports this package's section (rotation.policy), which needs the policy's types: load the
# policy package first, whichever module of this package is imported first.
import chalicelib.policy  # noqa: E402, F401
