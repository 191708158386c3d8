"""``pith reissue``: re-sign the registry under the current key, after a rotation or compromise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from issuer._time import fixed_or_system_clock
from issuer.cli._open import local_keys, open_registry, open_signer, registry_url
from issuer.cli._output import (
    JsonOpt,
    NowOpt,
    RegistryOpt,
    SignerOpt,
    emit_json,
    note,
    refusal_hints,
    refused_line,
)
from issuer.cli._params import path_parser
from issuer.cli._progress import progress_bar
from issuer.cli._secrets import PassphraseFdOpt, PassphraseFileOpt, passphrase_source
from issuer.errors import UsageError
from issuer.publish import publish, published_base_url
from issuer.reissue import ReissueSummary, reissue


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("reissue")(reissue_command)


def reissue_command(
    ctx: typer.Context,
    registry_file: RegistryOpt = None,
    signer: SignerOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            parser=path_parser,
            help="A tree written by pith publish: re-sign its bundles too (republished "
            "for the same base URL).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes that re-sign (default: one per CPU); the writer stays single. "
            "HSM signers always sign in one process.",
            show_default=False,
        ),
    ] = None,
    now: NowOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Re-sign every receipt, event signature and (with --out) bundle under the current key.

    Pith numbers, canonical hashes and event ids never change; receipts keep
    first_computed_at and move last_reissued_at. Anything already signed by
    the current key is skipped, so a run that was interrupted is simply run
    again. A receipt or event whose stored signature does not verify is not
    re-signed, nor (with --out) a bundle of a record that no longer passes: it is
    reported (refused: PITH_NUMBER: ...) and counted, and the rest goes on.
    Exit 0 on success, 1 if anything was refused, 2 for usage errors, 3 for key
    or database trouble.
    """
    base_url = None
    if out is not None:
        base_url = published_base_url(out)
        if base_url is None:
            raise UsageError(
                f"{out} is not a published tree (no settings file)",
                hint="publish it first: pith publish OUTDIR --base-url URL",
            )
    when = fixed_or_system_clock(now)()
    url = registry_url(ctx, registry_file)  # a bad URL is a usage error before any key
    sign = open_signer(ctx, None, signer, when, passphrase_source(passphrase_file, passphrase_fd))
    keys = local_keys(ctx)
    with open_registry(ctx, url) as store:
        total = store.count()
        with progress_bar("re-signing") as bar:
            task = bar.add_task("reissue", total=total, counts="")

            def advance(summary: ReissueSummary) -> None:
                counts = f"{summary.receipts:,} receipts, {summary.events:,} events re-signed"
                bar.update(task, completed=summary.records, counts=counts)

            summary = reissue(
                store,
                sign,
                now=when,
                workers=workers or os.cpu_count() or 1,
                on_batch=advance,
                extra=keys,
            )
        if out is not None and base_url is not None:
            with progress_bar("re-signing bundles") as bar:
                task = bar.add_task("publish", total=total, counts="")
                published = publish(
                    store,
                    out,
                    sign,
                    base_url=base_url,
                    now=when,
                    extra=keys,
                    on_record=lambda s: bar.update(task, completed=s.records, counts=""),
                )
            summary.add_published(published)
    for refusal in summary.refusals:
        refused_line(refusal)
    refusal_hints(summary.refusals)
    if json_out:
        emit_json(summary.to_dict())
    else:
        note(
            f"re-signed under {summary.key_id}: {summary.receipts:,} receipts, "
            f"{summary.events:,} events, {summary.bundles:,} bundles "
            f"({summary.receipts_current:,} receipts and {summary.events_current:,} events "
            f"were already; {summary.records:,} records; {summary.refused:,} refused)"
        )
        if out is None:
            note("bundles are built on demand; republish with: pith publish")
    raise typer.Exit(summary.exit_code)
