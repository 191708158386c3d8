"""``pith publish``: write the registry as a static tree any web server can serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from issuer._time import fixed_or_system_clock
from issuer.cli._output import (
    emit_json,
    local_keys,
    open_signer,
    progress_bar,
    registry_path,
)
from issuer.cli._registry import JsonOpt, KeyOpt, NowOpt, RegistryOpt, SignerOpt
from issuer.publish import PublishSummary, publish
from issuer.store import open_store


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("publish")(publish_command)


def publish_command(
    ctx: typer.Context,
    outdir: Annotated[Path, typer.Argument(help="Directory to write the tree into.")],
    base_url: Annotated[
        str,
        typer.Option("--base-url", help="Where the tree will be served (links, mirror_hints)."),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Rewrite every record, changed or not.")
    ] = False,
    registry_file: RegistryOpt = None,
    signer: SignerOpt = None,
    key: KeyOpt = None,
    now: NowOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Publish every record: bundle.json, state.json, .well-known bundle, index.html.

    Also pith-signing-key.json. Incremental: only records whose state changed
    since the last run (or whose files are missing) are written again. Every
    file is replaced atomically; a crash leaves each file old or new, and the
    next run finishes the job.
    """
    if not base_url.startswith(("https://", "http://")):
        typer.echo("error: --base-url must be an http(s) URL", err=True)
        raise typer.Exit(2)
    when = fixed_or_system_clock(now)()
    sign = open_signer(ctx, key, signer, when)
    with open_store(registry_path(registry_file)) as store:
        total = store.count()
        bar = progress_bar("publishing")
        with bar:
            task = bar.add_task("publish", total=total, counts="")

            def advance(summary: PublishSummary) -> None:
                if summary.records % 100 == 0 or summary.records == total:
                    counts = f"{summary.written:,} written, {summary.unchanged:,} unchanged"
                    bar.update(task, completed=summary.records, counts=counts)

            summary = publish(
                store,
                outdir,
                sign,
                base_url=base_url,
                now=when,
                extra=local_keys(ctx),
                force=force,
                on_record=advance,
            )
    if json_out:
        emit_json({**summary.to_dict(), "outdir": str(outdir), "base_url": base_url})
    else:
        typer.echo(
            f"published {summary.records} records to {outdir}: {summary.written} written, "
            f"{summary.unchanged} unchanged ({summary.files} files, {summary.bytes:,} bytes)",
            err=True,
        )
