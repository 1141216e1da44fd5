"""``relais outbox [--json]``: what the outbox transports captured instead of sending."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from plugin.notifications.models import OutboxEntry


@click.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--limit", default=200, show_default=True, help="most recent entries")
@click.option("--html", "with_html", is_flag=True, help="include each email's HTML")
@click.option(
    "--save",
    "save_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="also write each email as DIR/<id>.html, to open in a browser",
)
def outbox(as_json: bool, limit: int, with_html: bool, save_dir: Path | None) -> None:
    """List the emails, SMS and WhatsApp messages the outbox captured, oldest first."""
    from plugin.cli import _app
    from plugin.runtime import current_runtime

    app = _app()
    with app.app_context():
        runtime = current_runtime()
        with runtime.db.session() as session:
            entries = list(
                session.scalars(select(OutboxEntry).order_by(OutboxEntry.id.desc()).limit(limit))
            )
    entries.reverse()
    rows = [_as_dict(entry, with_html=with_html or as_json) for entry in entries]
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            if entry.html:
                (save_dir / f"{entry.id}.html").write_text(entry.html, encoding="utf-8")
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("The outbox is empty.")
        return
    for row in rows:
        click.echo(render_entry(row))
    if save_dir is not None:
        click.echo(f"Emails saved as HTML in {save_dir}")


def _as_dict(entry: OutboxEntry, *, with_html: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": entry.id,
        "message_id": entry.message_id,
        "channel": entry.channel,
        "to": entry.recipient,
        "from": entry.sender,
        "subject": entry.subject,
        "text": entry.text,
        "created_at": entry.created_at.isoformat(),
        **{k: v for k, v in (entry.meta or {}).items() if v},
    }
    if with_html:
        row["html"] = entry.html
    return row


def render_entry(row: dict[str, Any]) -> str:
    """One captured message as a person reads it (the email rendered as its text part)."""
    rule = "─" * 78
    lines = [rule, f"#{row['id']} {row['channel'].upper()}  {row['created_at']}"]
    lines.append(f"From: {row.get('from') or '-'}")
    lines.append(f"To: {row['to']}")
    if row.get("reply_to"):
        lines.append(f"Reply-To: {row['reply_to']}")
    if row.get("subject"):
        lines.append(f"Subject: {row['subject']}")
    if row.get("categories"):
        lines.append(f"Categories: {', '.join(row['categories'])}")
    if row.get("content_sid"):
        lines.append(f"WhatsApp template: {row['content_sid']} {row.get('content_variables')}")
    lines.append("")
    lines.append((row.get("text") or "").rstrip())
    return "\n".join(lines) + "\n"
