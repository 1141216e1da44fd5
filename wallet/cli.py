"""``relais wallet``: the Wallet commands (development certificates)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from plugin.config import DEFAULT_INSTANCE_DIR, Config


@click.group()
def wallet() -> None:
    """Apple Wallet passes and orders."""


@wallet.command("dev-certs")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="default: $RELAIS_INSTANCE_DIR/wallet-dev, where Relais looks without certificates",
)
@click.option("--pass-type", default=None, help="default $PASS_TYPE_IDENTIFIER")
@click.option("--order-type", default=None, help="default $ORDER_TYPE_IDENTIFIER")
@click.option("--team", default=None, help="default $APPLE_TEAM_ID")
@click.option("--force", is_flag=True, help="replace a chain that is already there")
def dev_certs(
    out: Path | None,
    pass_type: str | None,
    order_type: str | None,
    team: str | None,
    force: bool,
) -> None:
    """Create a local chain: root CA -> WWDR-like intermediate -> "Pass Type ID" and
    "Order Type ID" leaves (team id in OU). Passes signed with it build, verify and
    update end to end; devices refuse them (use the certificates from Apple for that)."""
    from wallet.credentials import ensure_dev_certificates

    instance = os.environ.get("RELAIS_INSTANCE_DIR", DEFAULT_INSTANCE_DIR)
    folder = (out or Path(instance) / "wallet-dev").resolve()
    pass_type = pass_type or os.environ.get("PASS_TYPE_IDENTIFIER") or Config.pass_type_identifier
    order_type = (
        order_type or os.environ.get("ORDER_TYPE_IDENTIFIER") or Config.order_type_identifier
    )
    team = team or os.environ.get("APPLE_TEAM_ID") or Config.apple_team_id
    if not pass_type.startswith("pass.") or not order_type.startswith("order."):
        raise click.BadParameter("type identifiers start with 'pass.' and 'order.'")
    if not re.fullmatch(r"[A-Z0-9]{10}", team):
        raise click.BadParameter("a team id is 10 upper-case letters or digits", param_hint="team")
    ensure_dev_certificates(
        folder,
        pass_type_identifier=pass_type,
        order_type_identifier=order_type,
        team_identifier=team,
        force=force,
    )
    click.echo(f"development chain for {pass_type} / {order_type} (team {team}) in {folder}")
    for name in ("root-ca.pem", "wwdr.pem", "pass-certificate.pem", "order-certificate.pem"):
        click.echo(f"  {folder / name}")
    click.echo(
        "Relais uses this folder when WALLET_CERTIFICATE is unset and RELAIS_INSTANCE_DIR "
        "points at its parent. To name the files explicitly:"
    )
    click.echo(f"  WALLET_CERTIFICATE={folder / 'pass-certificate.pem'}")
    click.echo(f"  WALLET_KEY={folder / 'pass-key.pem'}")
    click.echo(f"  WALLET_WWDR_CERTIFICATE={folder / 'wwdr.pem'}")
    click.echo(f"  WALLET_ORDER_CERTIFICATE={folder / 'order-certificate.pem'}")
    click.echo(f"  WALLET_ORDER_KEY={folder / 'order-key.pem'}")
