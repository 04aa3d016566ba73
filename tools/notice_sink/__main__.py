"""`python -m tools.notice_sink [serve]` runs the sink; `... list` prints what arrived."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from dataclasses import asdict

from casegold_platform.settings import ConfigError
from tools.notice_sink.listing import print_table
from tools.notice_sink.server import start
from tools.notice_sink.settings import SinkSettings, load_settings
from tools.notice_sink.store import NoticeStore


async def serve(settings: SinkSettings) -> None:
    """Run both listeners until SIGTERM or SIGINT."""
    running = await start(settings)
    print(
        f"notice sink: webhooks and Slack on http://{settings.host}:{running.http_port} "
        f"(page /), SMTP on {settings.host}:{running.smtp_port}, "
        f"keeping {NoticeStore(settings.dir).path}",
        flush=True,
    )
    await running.wait()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="python -m tools.notice_sink", description=__doc__)
    parser.add_argument("command", nargs="?", choices=("serve", "list"), default="serve")
    parser.add_argument("--json", action="store_true", help="list: JSON lines, not a table")
    parser.add_argument("--last", type=int, default=0, help="list: only the last N notices")
    options = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if options.command == "list":
        notices = NoticeStore(settings.dir).read()
        notices = notices[-options.last :] if options.last > 0 else notices
        if options.json:
            for notice in notices:
                print(json.dumps(asdict(notice), ensure_ascii=False))
        else:
            print_table(notices)
        return 0
    # The HTTP server turns SIGTERM/SIGINT into a graceful stop, then raises the signal
    # again once it is done: this no-op keeps that second delivery from killing the process
    # before the SMTP side is closed.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        asyncio.run(serve(settings))
    except OSError as error:
        print(f"notice sink: cannot listen: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
