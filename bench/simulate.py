"""The organisation simulator as a benchmark: N emulated accounts through one front door against Slack's limits
(``switchboard simulate``, localworld/simulate.py), with the goals of issue 16 beside the figures.

    python bench/simulate.py [--accounts 10] [--rate 50] [--updates 4] [--enforce]

Goals: messages lost 0; no channel above Slack's limit (chat writes accepted in one channel in one second never more
than Slack's burst, and the front door's own budget is one a second); an older card version never shown over a newer
one; each fan-out command answered once. Events/s, lag and the hottest partition are reported, not judged: on this
machine (2 shared cores) they measure the machine as much as the code, and the lag's floor is Slack's (one message a
second per channel, chat.update 50 a minute per workspace).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--settle-timeout", type=float, default=None)
    parser.add_argument("--enforce", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()

    from localworld import simulate
    from localworld.slack.limits import CHANNEL_BURST

    report = simulate.run(args.accounts, args.rate, updates=args.updates, workers=args.workers,
                          settle_timeout=args.settle_timeout)
    print(f"simulate: {args.accounts} accounts, {args.rate:g} events/s offered")
    for line in report.lines():
        print(f"  {line}")
    goals = [
        ("messages lost", report.lost, "0", report.lost == 0),
        ("older version over newer", report.older_over_newer, "0", report.older_over_newer == 0),
        ("max chat writes per channel per second", report.max_calls_per_channel_second, f"<= {CHANNEL_BURST}",
         report.max_calls_per_channel_second <= CHANNEL_BURST),
        ("replies per fan-out command", f"{report.fanout_replies}/{report.fanouts}", "1 each",
         report.fanout_replies == report.fanouts),
    ]
    missed = 0
    for name, value, goal, met in goals:
        print(f"  goal: {name} {value} (goal {goal}): {'met' if met else 'MISSED'}")
        missed += not met
    return 1 if args.enforce and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
