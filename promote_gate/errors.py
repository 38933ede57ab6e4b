"""The exceptions that map to exit code 2: the gate could not evaluate."""

from __future__ import annotations

EXIT_OK, EXIT_VIOLATIONS, EXIT_ERROR = 0, 1, 2
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # the default bound on a document (max_document_bytes)


class GateError(Exception):
    """The gate could not run (unreadable repository, bad config, bad usage).

    The message is shown to the user as is; it should say what to do.
    """


class UsageError(GateError):
    """The command line or configuration is wrong."""


class RefusedError(GateError):
    """`promote` refused to write a bundle; nothing was written."""


class DocumentError(ValueError):
    """A document could not be read: too large, not parseable, or too deep/expanded.

    The message names the document; where it escapes a command it is exit 2, as it is.
    """
