"""``pith witness``: a C2SP tlog-witness (issue 16 §5): ``vkey``, ``serve``, ``cosign``.

The witness key is a key of the home (``pith keys generate`` makes it, at any
signer URI: keyring, file, PKCS#11); ``--key-id`` picks it (default: the
home's current key) and ``--signer`` overrides where it is. ``--name`` is the
witness's note key name, which verifiers see in ``pith witness vkey``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from issuer.cli._open import open_signer
from issuer.cli._params import path_parser
from issuer.cli._secrets import PassphraseFdOpt, PassphraseFileOpt, passphrase_source
from issuer.errors import EXIT_REFUSED, EXIT_USAGE, FormatError, UsageError, VerificationError
from issuer.tlog import (
    COSIGNATURE_ED25519,
    MAX_REQUEST_SIZE,
    NoteSigner,
    Witness,
    WitnessServer,
    WitnessState,
    is_valid_name,
    parse_log_keys,
    refusal,
)

witness_app = typer.Typer(
    help="Transparency log witness: cosign checkpoints that extend what it cosigned before.",
    no_args_is_help=True,
)

NameOpt = Annotated[
    str,
    typer.Option(
        "--name", help="The witness's key name, as verifiers name it, e.g. witness.example/w1."
    ),
]
KeyIdOpt = Annotated[
    str | None,
    typer.Option("--key-id", help="The home's key to cosign with (default: its current key)."),
]
SignerOpt = Annotated[
    str | None,
    typer.Option(
        "--signer",
        help="Where that key's private key is: keyring:…, file:PATH or pkcs11:… "
        "(default: where pith keys generate put it).",
    ),
]
StateOpt = Annotated[
    Path,
    typer.Option(
        "--state",
        parser=path_parser,
        help="The witness's state file: the last checkpoint cosigned for each log.",
    ),
]
LogOpt = Annotated[
    list[str],
    typer.Option(
        "--log",
        help="A log to witness, ORIGIN=VKEY (or VKEY, named by its origin): its Ed25519 note "
        "key. Repeatable; several keys for one origin are each trusted.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``witness`` group to ``app``."""
    app.add_typer(witness_app, name="witness")


def _cosigner(
    ctx: typer.Context,
    name: str,
    key_id: str | None,
    signer: str | None,
    passphrase_file: Path | None,
    passphrase_fd: int | None,
) -> NoteSigner:
    if not is_valid_name(name):
        raise UsageError(f"--name {name!r}: a key name is non-empty, with no space and no '+'")
    sign = open_signer(
        ctx, key_id, signer, datetime.now(UTC), passphrase_source(passphrase_file, passphrase_fd)
    )
    return NoteSigner(name, COSIGNATURE_ED25519, sign)


def _witness(cosigner: NoteSigner, state: Path, logs: list[str]) -> Witness:
    try:
        configured = parse_log_keys(logs)
    except FormatError as e:
        raise UsageError(f"--log: {e.message}", hint=e.hint) from e
    if not configured:
        raise UsageError("give at least one --log ORIGIN=VKEY")
    witness = Witness(cosigner, configured, WitnessState(state))
    witness.state.read()  # refuse an unreadable state now, not at the first request
    return witness


@witness_app.command("vkey")
def vkey(
    ctx: typer.Context,
    name: NameOpt,
    key_id: KeyIdOpt = None,
    signer: SignerOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
) -> None:
    """Print the witness's verifier key, NAME+KEYID+BASE64(0x04 || public key)."""
    cosigner = _cosigner(ctx, name, key_id, signer, passphrase_file, passphrase_fd)
    typer.echo(str(cosigner.verifier_key))


@witness_app.command("serve")
def serve(
    ctx: typer.Context,
    name: NameOpt,
    state: StateOpt,
    logs: LogOpt,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to listen on (port 0: any free port).")
    ] = "127.0.0.1:7380",
    key_id: KeyIdOpt = None,
    signer: SignerOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness) until interrupted.

    The first line on stderr says where it listens. Ctrl-C or SIGTERM stop it;
    the state file always holds the last checkpoint cosigned for each log.
    """
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:  # noqa: PLR2004 - highest port
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT")
    cosigner = _cosigner(ctx, name, key_id, signer, passphrase_file, passphrase_fd)
    witness = _witness(cosigner, state, logs)
    try:
        server = WitnessServer((host.strip("[]") or "127.0.0.1", int(port)), witness)
    except OSError as e:
        raise UsageError(f"cannot listen on {listen}: {e.strerror or e}") from e
    with server:
        typer.echo(f"witness {cosigner.verifier_key} listening on {server.url}", err=True)
        sys.stderr.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            typer.echo("witness stopped", err=True)


@witness_app.command("cosign")
def cosign(
    ctx: typer.Context,
    request: Annotated[
        str, typer.Argument(help="An add-checkpoint request body (old size, proof, checkpoint).")
    ],
    name: NameOpt,
    state: StateOpt,
    logs: LogOpt,
    key_id: KeyIdOpt = None,
    signer: SignerOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
) -> None:
    """Answer one add-checkpoint request offline: print the cosignature line on stdout.

    Exit 0 and the cosignature when the checkpoint extends the one cosigned
    before; 1 and a FAIL line with the reason and the HTTP status the server
    would answer otherwise; 3 when the state file or the key is unavailable.
    """
    label = "<stdin>" if request == "-" else request
    try:
        # One byte over the limit is enough for the parser to refuse the rest unread.
        if request == "-":
            body = sys.stdin.buffer.read(MAX_REQUEST_SIZE + 1)
        else:
            with Path(request).open("rb") as f:
                body = f.read(MAX_REQUEST_SIZE + 1)
    except OSError as e:
        typer.echo(f"ERROR: {label}: cannot read: {e.strerror or e}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    cosigner = _cosigner(ctx, name, key_id, signer, passphrase_file, passphrase_fd)
    witness = _witness(cosigner, state, logs)
    try:
        signature = witness.add_checkpoint(body)
    except (FormatError, VerificationError) as e:
        answer = refusal(e)
        typer.echo(f"FAIL: {label}: {answer.reason} (HTTP {answer.status}): {e.message}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    typer.echo(signature.line(), nl=False)
