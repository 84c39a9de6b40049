"""`switchboard`: the local world's command line (never deployed).

    switchboard up                     start the world and leave it serving (Ctrl-C stops it)
    switchboard demo [--foreground | --stay] [--without ACCOUNT/FUNCTION/SID]...
                                       start it, play the scripted story, print a timeline, exit 0 (non-zero when a
                                       step fails or IAM refused a call, listing function and action); the world
                                       keeps serving in the background (the console) until `switchboard down`
                                       (--foreground: it stops with the command; --stay: in this shell, Ctrl-C)
    switchboard down                   stop the world `switchboard demo` left serving (.world/world.pid)
    switchboard replay FILE|DIR... [--account NAME] [--json]
    switchboard policy validate FILE...
    switchboard routes test FILE.json|label=value... [--policy FILE | --account NAME] [--state S] [--json]
    switchboard dead-letters list|redrive --account NAME [--all | MESSAGE_ID...]   (in a running `switchboard up`)
    switchboard simulate --accounts N --rate R [--updates U] [--workers W] [--settle-timeout S] [--json]
                                       N emulated accounts through one front door against Slack's limits: events/s,
                                       Slack calls per channel per second, change-to-card lag, messages lost
    switchboard keys public [--key-id ALIAS|ARN] [--name ACCOUNT]
                                       print this account's signing public key, ready to pin in peers' policies
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading


def _policy_validate(args: argparse.Namespace) -> int:
    from chalicelib.policy.loader import validate_file, warnings_of

    status = 0
    for path in args.files:
        problems = validate_file(path)
        if problems:
            status = 2
            print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        else:
            print(f"{path}: ok")
            warnings = warnings_of(path)  # allowed but unwise: said, never a failure
            if warnings:
                print(f"{path}: {len(warnings)} warning(s)", file=sys.stderr)
                for warning in warnings:
                    print(f"  warning: {warning}", file=sys.stderr)
    return status


def _keys_public(args: argparse.Namespace) -> int:
    """With credentials for the account (as for `aws cloudformation deploy`; AWS_ENDPOINT_URL is honoured), print
    the public half of its Switchboard signing key as every peer pins it in its policy."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.peering.envelope import pem_from_der

    try:
        answer = boto3.client("kms").get_public_key(KeyId=args.key_id)
        account = boto3.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as exc:
        print(f"cannot read the public key of {args.key_id}: {exc}", file=sys.stderr)
        return 2
    spec = answer.get("KeySpec") or answer.get("CustomerMasterKeySpec")  # the older name (moto answers only that)
    if spec != "ECC_NIST_P256" or answer.get("KeyUsage") != "SIGN_VERIFY":
        print(f"{args.key_id} is {spec}/{answer.get('KeyUsage')}, not an ECC_NIST_P256 signing key", file=sys.stderr)
        return 2
    pem = pem_from_der(answer["PublicKey"])
    name = args.name or "<this account's name>"
    print(f"# account {account}: paste under `peers.{name}` in the policy of every peer it sends to")
    print(f"# (and under `account` in its own policy). Key: {answer['KeyId']}")
    print("public_key: |")
    for line in pem.strip().splitlines():
        print(f"  {line}")
    return 0


def _dead_letters(args: argparse.Namespace) -> int:
    from localworld.accounts import ROOT
    from localworld.world import WorldError, run_in_running_world

    if args.action == "redrive" and not (args.all or args.ids):
        print("redrive needs --all or message ids", file=sys.stderr)
        return 2
    extra = (["--all"] if args.all else list(args.ids)) if args.action == "redrive" else []
    try:
        out = json.loads(run_in_running_world(ROOT, args.account, "localworld.deadletter_tasks", args.action, *extra))
    except WorldError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
        return 0
    if args.action == "list":
        for d in out["letters"]:
            print(f"{d['id']}  {d['function']}  {d['condition']} after {d['attempts']}  {d['payload']}  {d['error']}")
        for u in out["unreadable"]:
            print(f"{u['id']}  (cannot be redriven: {u['reason']})")
        print(f"{len(out['letters'])} dead letter(s) in {args.account}")
    else:
        for r in out["redriven"]:
            print(f"{r['id']}  {r['function']}  {r['outcome']}  {r['reason']}")
    return 0


def _up(args: argparse.Namespace) -> int:
    from localworld import background
    from localworld.world import World

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    background.down()  # one world at a time (the one `switchboard demo` left serving)
    background.claim()
    try:
        with World(moto_port=args.moto_port, slack_port=args.slack_port, log=print) as world:
            print("\nThe local world is up. State (endpoints, per-account credentials):", world.workdir / "world.json")
            print("Instance logs:", world.workdir / "logs", "- Ctrl-C to stop.")
            print(f"The console: {world.console_url} (Sign in with Slack: the stand-in lets you pick a person)")
            try:
                while not stop.is_set():
                    stop.wait(1)
            except KeyboardInterrupt:
                pass
    finally:
        background.release()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from localworld import background
    from localworld.demo import main, without

    try:
        without(args.without)  # a bad --without is said here, before anything starts
        if args.stay or args.foreground:
            return main(args.without, stay=args.stay, announce=args.announce)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return background.detach([f"--without={item}" for item in args.without])


def _down(args: argparse.Namespace) -> int:
    from localworld import background

    if background.down():
        print("The local world is stopped.")
    else:
        print("No local world is running.")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from localworld.replay import format_report, load, replay_one
    from localworld.world import World

    items = load(args.paths)
    if not items:
        print("no events found in " + " ".join(args.paths), file=sys.stderr)
        return 2
    log = (lambda line: None) if args.json else (lambda line: print("# " + line))
    with World(log=log) as world:
        if args.account and args.account not in world.accounts:
            print(f"unknown account {args.account!r} (known: {', '.join(world.accounts)})", file=sys.stderr)
            return 2
        for name, event, error in items:
            if error:
                report = {"file": name, "account": args.account, "event_id": None, "handlers": [],
                          "outcome": "rejected", "reason": error, "results": []}
            else:
                report = replay_one(world, name, event, args.account)
            print(json.dumps(report, default=str) if args.json else format_report(report), flush=True)
        denied = world.denials()
    for line in sorted({d.line() for d in denied}):
        print(f"IAM refused: {line}", file=sys.stderr)
    return 1 if denied else 0


def _simulate(args: argparse.Namespace) -> int:
    from localworld import simulate

    try:
        return simulate.main(args)
    except ValueError as exc:
        print(f"switchboard simulate: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard's local world")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the local world and leave it serving")
    up.add_argument("--moto-port", type=int, default=0)
    up.add_argument("--slack-port", type=int, default=0)
    up.set_defaults(run=_up)
    demo = sub.add_parser("demo", help="play the scripted story and print a timeline")
    kept = demo.add_mutually_exclusive_group()
    kept.add_argument("--foreground", action="store_true",
                      help="stop the world when the story is played (default: it keeps serving in the background)")
    kept.add_argument("--stay", action="store_true", help="keep the world up in this shell afterwards (Ctrl-C)")
    demo.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)  # for the detached process
    demo.add_argument("--without", action="append", default=[], metavar="ACCOUNT/FUNCTION/SID",
                      help="take a statement out of a function's generated policy (the demo must then fail)")
    demo.set_defaults(run=_demo)
    stop = sub.add_parser("down", help="stop the local world `switchboard demo` left serving")
    stop.set_defaults(run=_down)
    replay = sub.add_parser("replay", help="put recorded events on the emulated bus")
    replay.add_argument("paths", nargs="+", metavar="FILE|DIR")
    replay.add_argument("--account", help="emulated account whose bus receives the events")
    replay.add_argument("--json", action="store_true", help="one JSON object per event")
    replay.set_defaults(run=_replay)
    policy = sub.add_parser("policy", help="policy tools")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    validate = policy_sub.add_parser("validate", help="validate policy files (exit 2 on any problem)")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(run=_policy_validate)
    dead = sub.add_parser("dead-letters", help="list or redrive what Lambda gave up on (a running local world)")
    dead.add_argument("action", choices=["list", "redrive"])
    dead.add_argument("ids", nargs="*", metavar="MESSAGE_ID")
    dead.add_argument("--account", required=True)
    dead.add_argument("--all", action="store_true")
    dead.add_argument("--json", action="store_true")
    dead.set_defaults(run=_dead_letters)
    keys = sub.add_parser("keys", help="this account's signing key")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    public = keys_sub.add_parser("public", help="print the public key that peers pin in their policy")
    public.add_argument("--key-id", default="alias/switchboard-signing")
    public.add_argument("--name", help="this account's name in the policies (for the hint line)")
    public.set_defaults(run=_keys_public)
    from localworld import alerts_cli

    alerts_cli.add_parser(sub)
    simulate = sub.add_parser("simulate", help="N sender accounts through one front door, against Slack's limits")
    simulate.add_argument("--accounts", type=int, default=10, help="emulated sender accounts (default 10)")
    simulate.add_argument("--rate", type=float, default=50.0, help="events offered per second, in all (default 50)")
    simulate.add_argument("--updates", type=int, default=4, help="versions of each account's alarm card (default 4)")
    simulate.add_argument("--workers", type=int, default=8, help="concurrent intake invocations (default 8)")
    simulate.add_argument("--settle-timeout", type=float, default=None,
                          help="seconds to wait for Slack to show every card after the storm (default: 2 per card)")
    simulate.add_argument("--json", action="store_true", help="the report as JSON")
    simulate.set_defaults(run=_simulate)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
