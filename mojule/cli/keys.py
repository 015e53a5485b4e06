"""``mojule keys ...``: master-key and org data-key rotation."""
from __future__ import annotations

import click

from mojule import audit, keys
from mojule.cli import CliContext, cli, pass_cli
from mojule.crypto import CryptoError


@cli.group("keys")
def keys_group() -> None:
    """Rotate the master key or an org's data key (content is never touched)."""


@keys_group.command("rotate-master")
@pass_cli
def rotate_master(ctx: CliContext) -> None:
    """Re-wrap every data key under MOJULE_MASTER_KEY.

    Set MOJULE_MASTER_KEY to the new key and MOJULE_MASTER_KEY_PREVIOUS to the old one
    in the server's environment and restart the server (it reads its keys at start),
    run this, then drop the previous key and restart again. Safe to interrupt and run
    again.
    """
    masters = ctx.config["MASTER_KEYS"]
    try:
        results = keys.rotate_master_key(ctx.conn, masters, audit.cli_actor())
    except CryptoError as exc:
        raise click.ClickException(
            f"{exc} (is MOJULE_MASTER_KEY_PREVIOUS the key the data keys were wrapped with?)")
    total = sum(result.rewrapped for result in results)
    click.echo(f"re-wrapped {total} data keys under master key {masters[0].key_id}", err=True)


@keys_group.command("rotate")
@click.option("--org", "slug", required=True, help="The org's slug.")
@pass_cli
def rotate(ctx: CliContext, slug: str) -> None:
    """Start a new data key for the org's new content; older content stays readable."""
    target = ctx.org(slug)
    try:
        dek_id = keys.rotate_org_key(ctx.conn, ctx.config["MASTER_KEYS"], target.org_id,
                                     audit.cli_actor())
    except CryptoError as exc:
        raise click.ClickException(f"{exc} Nothing was changed: is MOJULE_MASTER_KEY right?")
    click.echo(f"org {slug} now encrypts new content with data key {dek_id} "
               "(running servers switch within a minute)", err=True)
