"""What arrived, for people: a rich table in the terminal and a plain HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from tools.notice_sink.store import Notice


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def _signature(notice: Notice) -> str:
    return {True: "ok", False: "BAD", None: "-"}[notice.verified]


def table(notices: Sequence[Notice], title: str = "Notices received") -> Table:
    """The notices as a rich table, oldest first."""
    grid = Table(title=f"{title} ({len(notices)})", expand=False)
    for column in ("time (UTC)", "channel", "recipient", "signature", "case", "title"):
        grid.add_column(column, overflow="fold")
    for notice in notices:
        grid.add_row(
            _when(notice.received_at),
            notice.channel,
            notice.recipient,
            _signature(notice),
            (notice.case_id or "-")[:8],
            notice.title,
        )
    return grid


def print_table(notices: Sequence[Notice], console: Console | None = None) -> None:
    """Print the table, or say that nothing arrived yet."""
    out = console or Console()
    if not notices:
        out.print("No notices received yet.")
        return
    out.print(table(notices))


def html_page(notices: Sequence[Notice]) -> str:
    """The sink's page: newest first, each notice linked to its case page in reporting."""
    rows = []
    for notice in reversed(notices):
        case = notice.case_id
        link = f'<a href="http://127.0.0.1:8084/cases/{case}">{case[:8]}</a>' if case else "-"
        cells = (
            html.escape(_when(notice.received_at)),
            html.escape(notice.channel),
            html.escape(notice.recipient),
            html.escape(_signature(notice)),
            link,
            html.escape(notice.title),
        )
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    body = "\n".join(rows) or '<tr><td colspan="6">No notices received yet.</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Casegold notice sink</title>
<meta http-equiv="refresh" content="5">
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head>
<body><h1>Notices received ({len(notices)})</h1>
<table><tr><th>time (UTC)</th><th>channel</th><th>recipient</th><th>signature</th>
<th>case</th><th>title</th></tr>
{body}
</table></body></html>
"""
