"""``pith publish``: write the registry as a static tree any web server can serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from issuer._time import fixed_or_system_clock
from issuer.cli._open import local_keys, open_registry, open_signer, registry_url
from issuer.cli._output import (
    JsonOpt,
    KeyOpt,
    NowOpt,
    RegistryOpt,
    SignerOpt,
    emit_json,
    make_dir,
    note,
    refusal_hints,
    refused_line,
)
from issuer.cli._params import check_base_url, path_parser
from issuer.cli._progress import progress_bar
from issuer.errors import UsageError
from issuer.fetch import TIMEOUT_SECONDS, http_url
from issuer.publish import PublishSummary, publish


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("publish")(publish_command)


def publish_command(
    ctx: typer.Context,
    outdir: Annotated[
        Path, typer.Argument(parser=path_parser, help="Directory to write the tree into.")
    ],
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
    witnesses: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A C2SP tlog-witness URL (its submission prefix) to cosign the checkpoint. "
            "Repeatable.",
        ),
    ] = None,
    witness_timeout: Annotated[
        float,
        typer.Option("--witness-timeout", help="Seconds each witness request may take.", min=0.1),
    ] = TIMEOUT_SECONDS,
) -> None:
    """Publish every record: bundle.json, state.json, .well-known bundle, index.html.

    Also pith-signing-key.json and an index of records by year. Incremental:
    only records that changed since the last run, were published under another
    --base-url or key, or miss a file are written again. Every file is replaced
    atomically; a killed run leaves each file old or new, and the next run
    resumes where it stopped. A record the registry holds that no longer passes
    is reported (refused: PITH_NUMBER: why) and skipped; exit 1 if any was.

    With --witness, the log's checkpoint is sent to each witness once signed,
    and the cosignatures returned go into the published checkpoint and the
    bundles written. A witness that is down or refuses is reported (warning:
    witness URL: why) and the tree is published with the other cosignatures;
    that alone does not change the exit code (--json counts witness_warnings).
    """
    check_base_url(base_url)
    for url in witnesses or []:
        try:
            http_url(url)
        except UsageError as e:
            raise UsageError(f"--witness {url!r}: {e.message}") from e
    when = fixed_or_system_clock(now)()
    registry = registry_url(ctx, registry_file)  # a bad URL is a usage error before any key
    sign = open_signer(ctx, key, signer, when)
    with open_registry(ctx, registry) as store:
        make_dir(outdir)
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
                on_refused=refused_line,
                witnesses=witnesses or [],
                witness_timeout=witness_timeout,
                on_witness=lambda _url, why: typer.echo(f"warning: {why}", err=True),
            )
    refusal_hints(summary.refusals)
    if json_out:
        emit_json({**summary.to_dict(), "outdir": str(outdir), "base_url": base_url})
    else:
        note(
            f"published {summary.records} records to {outdir}: {summary.written} written, "
            f"{summary.unchanged} unchanged, {summary.refused} refused "
            f"({summary.files} files, {summary.bytes:,} bytes)"
            + (
                f"; checkpoint cosigned by {len(summary.cosigned_by)} of {len(set(witnesses))} "
                "witnesses"
                if witnesses
                else ""
            )
        )
    raise typer.Exit(summary.exit_code)
