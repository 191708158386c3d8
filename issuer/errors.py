"""The toolkit's exception hierarchy, and nothing else.

Every error a user can meet is an :class:`Error`. Each carries the text the
user reads (:meth:`Error.diagnostics`, with a hint where one helps) and the
process exit code the CLI uses for it. The tree is split by who is at fault:
the input (``FormatError``, ``SourceError``), the evidence
(``VerificationError``), or the machine (``KeyAccessError``, ``SigningError``,
``StoreError``, ``NetworkError``).

Exit codes, the same for every ``pith`` command (README, "Exit codes"):

===  =====================================================================
0    ok
1    refused: the input or the evidence did not pass (a record refused, a
     bundle that does not verify, an ambiguous alias)
2    usage: a bad option or argument, an input file that cannot be read
3    unavailable: not found (record, key, registry), key locked, database,
     network, or an output path that cannot be written
130  interrupted (Ctrl-C); running the same command again resumes
141  stdout's reader went away (``pith derive FILE | head -1``), as a shell
     reports a writer killed by SIGPIPE; nothing more is printed
===  =====================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_OPERATIONAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as shells report it


class Error(Exception):
    """Base of every error the toolkit raises on purpose.

    Args:
        message: what went wrong, in words a registry operator understands.
        hint: what to do about it, if there is something to do.
    """

    exit_code: int = EXIT_OPERATIONAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.diagnostics()

    def diagnostics(self) -> str:
        """The text shown to the user: the message, then the hint if any."""
        if self.hint:
            return f"{self.message}\nHint: {self.hint}"
        return self.message


class FormatError(Error):
    """Input is not a well-formed document (bad canonical JSON, missing field)."""

    exit_code = EXIT_REFUSED


class UsageError(FormatError):
    """A command-line argument that is not what the command takes (a malformed alias)."""

    exit_code = EXIT_USAGE


class SourceError(FormatError):
    """arXiv input that cannot issue a record: unreadable, or a refused format.

    Args:
        message: the reason.
        location: ``FILE:LINE`` or ``FILE`` or a record id, where known.
        hint: what to do about it.
    """

    def __init__(self, message: str, *, location: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.location = location

    def diagnostics(self) -> str:
        """The message prefixed with its location."""
        text = super().diagnostics()
        return f"{self.location}: {text}" if self.location else text


class UnreadableInputError(SourceError):
    """An input file that cannot be read at all: missing, unreadable, corrupt XML."""

    exit_code = EXIT_USAGE


class VerificationError(Error):
    """Well-formed evidence that does not verify. Always fails closed.

    Args:
        message: what did not verify, precisely.
        reason: a stable machine-readable reason code.
        step: the name of the verification step that failed.
        hint: what to do about it, if there is something to do.
    """

    exit_code = EXIT_REFUSED

    def __init__(
        self, message: str, *, reason: str, step: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.step = step


class WitnessConflictError(VerificationError):
    """A witness refuses an ``add-checkpoint`` whose old size is not its latest (HTTP 409).

    Args:
        message: what conflicts.
        known_size: the size of the latest checkpoint the witness cosigned for the origin.
    """

    def __init__(self, message: str, *, known_size: int) -> None:
        super().__init__(message, reason="old_size_mismatch", step="old_size")
        self.known_size = known_size


class RegistryMismatchError(Error):
    """Two registries that must hold the same rows do not (``pith registry copy``).

    The destination of a copy holds rows its source does not have, or that
    differ; or a finished copy does not compare equal to its source.
    """

    exit_code = EXIT_REFUSED


class KeyAccessError(Error):
    """A key is unavailable: keyring locked, wrong passphrase, token absent."""


class SigningError(Error):
    """A signer backend failed to sign."""


class StoreError(Error):
    """The registry database is locked, corrupt or of the wrong schema."""


class NotFoundError(Error):
    """What was asked for is not there: a record, an alias, a key, the registry itself."""


class OutputError(Error):
    """An output path that cannot be written: a missing or read-only directory, a full disk."""


class NetworkError(Error):
    """Fetching keys or bundles over the network failed.

    Args:
        message: what failed, naming the URL (without any user or password).
        hint: what to do about it.
        status: the HTTP status the server answered, when that answer is the failure.
    """

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None):
        super().__init__(message, hint=hint)
        self.status = status
