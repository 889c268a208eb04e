"""A report file's text: its encoding told apart, and the error that names a report's bad line."""

from __future__ import annotations

from ..errors import InputError
from ..i18n import _


class ReportError(InputError):
    """The report cannot be used; the text names the line and the reason."""


def decode(raw: bytes, encoding: str, name: str) -> str:
    """The report's text: UTF-8 (with or without BOM) or Windows-1251 (Excel's default for
    Russian), told apart when ``encoding`` is ``auto``; a wrong guess names the line."""
    wanted = encoding.lower().replace("_", "-")
    if wanted in ("auto", "utf-8", "utf8", "utf-8-sig"):
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            if wanted != "auto":
                line = raw.count(b"\n", 0, error.start) + 1
                raise ReportError(
                    _(
                        "{name}: line {line}: not UTF-8 text (saved by Excel as Windows-1251? "
                        'set report_encoding = "cp1251")'
                    ).format(name=name, line=line)
                ) from None
            return raw.decode("cp1251", errors="replace")
    try:
        text = raw.decode(wanted)
    except (LookupError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0]
        raise ReportError(
            _("{name}: cannot read as {encoding}: {error}").format(name=name, encoding=encoding, error=first)
        ) from None
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return text
        line = next(i for i, chunk in enumerate(raw.split(b"\n"), 1) if not chunk.isascii())
        raise ReportError(
            _('{name}: line {line}: this is UTF-8 text, not {encoding}: set report_encoding = "auto"').format(
                name=name, line=line, encoding=encoding
            )
        )
    return text
