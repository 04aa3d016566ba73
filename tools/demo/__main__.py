"""`python -m tools.demo [--cases N] [--rate R]`: realistic traffic against a running stack."""

from __future__ import annotations

import argparse
import asyncio
import sys

import httpx
from rich.console import Console

from casegold_platform.settings import ConfigError, KafkaSettings, load
from tools.demo.run import Options, Result, run
from tools.demo.stack import PARTS, Api, Endpoints, StackNotReady, WrongPolicy
from tools.demo.summary import print_summary


def parse(argv: list[str] | None) -> Options:
    """The command line as run options."""
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__)
    parser.add_argument("--cases", type=int, default=20, help="cases to open (default 20)")
    parser.add_argument("--rate", type=float, default=2.0, help="cases a second (default 2)")
    parser.add_argument(
        "--pace", type=float, default=1.0, help="scale the agents' timing (default 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the stories' random seed")
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="stop waiting after this many seconds"
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=PARTS[1:], help="a part not running"
    )
    for part in PARTS:
        parser.add_argument(f"--{part}-url", default=Endpoints().of(part), help=f"{part} base URL")
    for watched in ("prometheus", "grafana"):
        parser.add_argument(
            f"--{watched}-url", default=Endpoints().of(watched), help=f"{watched} base URL"
        )
    args = parser.parse_args(argv)
    if args.cases < 1 or args.rate <= 0 or args.pace <= 0 or args.timeout <= 0:
        parser.error("--cases must be ≥ 1; --rate, --pace and --timeout above 0")
    urls = {p: getattr(args, f"{p}_url").rstrip("/") for p in (*PARTS, "prometheus", "grafana")}
    endpoints = Endpoints(**urls)
    return Options(
        cases=args.cases,
        rate=args.rate,
        pace=args.pace,
        seed=args.seed,
        timeout=args.timeout,
        skip=frozenset(args.skip),
        endpoints=endpoints,
        kafka=load(KafkaSettings),
    )


async def _main(options: Options, console: Console) -> int:
    # The run's own deadline bounds every wait; this outer one also bounds a hung connection.
    result: Result = await asyncio.wait_for(run(options, console), options.timeout + 30)
    async with httpx.AsyncClient() as client:
        await print_summary(result, Api(client, options.endpoints), options.endpoints, console)
    return 1 if result.failures or result.timed_out else 0


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every request was accepted and every story finished in time."""
    console = Console()
    try:
        options = parse(argv)
        return asyncio.run(_main(options, console))
    except (StackNotReady, WrongPolicy, ConfigError) as error:
        console.print(f"[red]demo:[/red] {error}")
        return 2
    except httpx.HTTPStatusError as error:
        console.print(f"[red]demo:[/red] {error.request.url} answered {error.response.status_code}")
        return 2
    except TimeoutError:
        console.print("[red]demo:[/red] the stack stopped answering within the time limit")
        return 1


if __name__ == "__main__":
    sys.exit(main())
