"""Reading an uploaded import file: CSV (any common encoding and delimiter) or XLSX (first sheet).

`inspect` detects the format (XLSX by content: a zip), the text encoding (charset-normalizer; UTF-8 with or
without BOM, UTF-16 with BOM, Windows/Latin code pages) and the delimiter (csv.Sniffer among , ; tab |), reads
the header and counts the data rows, refusing with a clear 400 what cannot be imported. `records` then reads
the same file again, as stored, for the job. Every cell comes out as text (XLSX numbers and dates converted),
numbered by its row in the file as a spreadsheet shows it (the header is row 1).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from charset_normalizer import from_bytes

from core.errors import ValidationFailed

MAX_ROWS = 1_000_000
MAX_COLUMNS = 1_000
SAMPLE_ROWS = 5
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (Excel 97-2003) and other OLE2 documents
DETECTION_SAMPLE_BYTES = 1_000_000
SNIFF_SAMPLE_CHARS = 64_000
# Equally plausible code pages: the one Excel writes in the Americas and Western Europe first.
PREFERRED_ENCODINGS = ("utf_8", "cp1252", "iso8859_15", "latin_1", "cp1250", "cp1251")
MAX_CONTROL_RATIO = 0.01

csv.field_size_limit(1_000_000)


def _refuse(code: str, message: str, field_name: str = "file") -> ValidationFailed:
    return ValidationFailed(message, code=code, details=[{"field": field_name, "message": message}])


@dataclass(frozen=True)
class Source:
    """A file and how to read it: `csv` with its encoding and delimiter, or `xlsx`."""

    data: bytes
    format: str
    encoding: str | None = None
    has_bom: bool | None = None
    delimiter: str | None = None


@dataclass
class Inspection:
    source: Source
    headers: list[str]
    header_row: int
    total_rows: int
    sample: list[tuple[int, list[str]]] = field(default_factory=list)


# Text ------------------------------------------------------------------------------------------------------


def _codec_name(name: str) -> str:
    return codecs.lookup(name).name


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    sample = text[:SNIFF_SAMPLE_CHARS]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n")
    return controls > max(2, len(sample) * MAX_CONTROL_RATIO)


def _best_encoding(data: bytes) -> list[str]:
    """Candidate encodings for `data`, most plausible first (charset-normalizer's least chaotic readings,
    ties broken by PREFERRED_ENCODINGS)."""
    matches = list(from_bytes(data))
    if not matches:
        return []
    least = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos <= least + 0.001]
    ordered: list[str] = []
    for preferred in PREFERRED_ENCODINGS:
        if any(preferred in m.could_be_from_charset for m in tied):
            ordered.append(preferred)
    ordered += [m.encoding for m in sorted(tied, key=lambda m: -m.coherence)]
    ordered += [m.encoding for m in matches]
    return list(dict.fromkeys(ordered))


def decode(data: bytes) -> tuple[str, str, bool]:
    """The text of `data`, its encoding and whether it starts with a byte order mark."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not _looks_binary(text):
            bom = text.startswith("\ufeff")
            return (text[1:] if bom else text), "utf-8", bom
    for sample in (data[:DETECTION_SAMPLE_BYTES], data) if len(data) > DETECTION_SAMPLE_BYTES else (data,):
        for encoding in _best_encoding(sample):
            try:
                text = data.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                continue
            if _looks_binary(text):
                continue
            name = _codec_name(encoding)
            bom = text.startswith("\ufeff") or any(
                data.startswith(mark) for mark in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
            )
            return text.lstrip("\ufeff") if bom else text, name, bom
    raise _refuse(
        "UNSUPPORTED_FILE",
        "The file is neither a spreadsheet (XLSX) nor text (CSV) in an encoding we can read; export it as CSV or "
        "XLSX and try again",
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter of CSV `text` among , ; tab and |, by csv.Sniffer over the first lines; when the sniffer
    cannot tell, the candidate the header line uses most (a one-column file: a comma)."""
    sample = text[:SNIFF_SAMPLE_CHARS]
    if len(text) > SNIFF_SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    first_line = sample.split("\n", 1)[0]
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = None
    if found is not None and found in first_line:
        return found
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_records(source: Source) -> Iterator[tuple[int, list[str]]]:
    assert source.encoding is not None and source.delimiter is not None
    text = source.data.decode(source.encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=source.delimiter, quotechar='"', doublequote=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):  # noqa: B007 - the number is reported on errors
            yield number, cells
    except csv.Error as exc:
        raise _refuse("INVALID_CSV", f"Row {number + 1} cannot be read as CSV: {exc}") from exc


# XLSX ------------------------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """An XLSX cell as text: whole numbers without `.0`, dates as ISO dates (with the time unless midnight)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\x00", "")  # an escaped `_x0000_` in the sheet's XML: no text holds it
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _xlsx_records(source: Source) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    unreadable = _refuse(
        "UNREADABLE_XLSX", "The file looks like an XLSX workbook but cannot be read; open and save it again"
    )
    try:
        workbook = load_workbook(io.BytesIO(source.data), read_only=True, data_only=True)
    except Exception as exc:
        raise unreadable from exc
    try:
        if not workbook.worksheets:
            raise unreadable
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the stored dimension may be wrong; read every row there is
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [cell_text(v) for v in values]
        except ValidationFailed:
            raise
        except Exception as exc:
            raise unreadable from exc
    finally:
        workbook.close()


# Both ------------------------------------------------------------------------------------------------------


def detect(data: bytes) -> Source:
    """How to read `data`, or a 400 saying why it cannot be imported."""
    if not data.strip():
        raise _refuse("EMPTY_FILE", "The file is empty")
    if data.startswith(XLSX_MAGIC):
        return Source(data=data, format="xlsx")
    if data.startswith(OLE_MAGIC):
        raise _refuse("UNSUPPORTED_FILE", "Excel 97-2003 (.xls) files are not supported; save the file as XLSX or CSV")
    text, encoding, bom = decode(data)
    if not text.strip():
        raise _refuse("EMPTY_FILE", "The file is empty")
    return Source(data=data, format="csv", encoding=encoding, has_bom=bom, delimiter=sniff_delimiter(text))


def records(source: Source) -> Iterator[tuple[int, list[str]]]:
    """Every record of the file with its row number (1-based, as a spreadsheet shows it), blank ones included."""
    return _xlsx_records(source) if source.format == "xlsx" else _csv_records(source)


def is_blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def clean_headers(cells: list[str]) -> list[str]:
    return [c.replace("\ufeff", "").replace("\x00", "").strip() for c in cells]


def inspect(data: bytes, *, max_rows: int | None = None) -> Inspection:
    """Detect, read the header (the first non-blank row), count the data rows and keep the first few."""
    max_rows = max_rows or MAX_ROWS
    source = detect(data)
    headers: list[str] | None = None
    header_row = 0
    total = 0
    sample: list[tuple[int, list[str]]] = []
    for number, cells in records(source):
        if is_blank(cells):
            continue
        if headers is None:
            headers, header_row = clean_headers(cells), number
            if len(headers) > MAX_COLUMNS:
                raise _refuse("TOO_MANY_COLUMNS", f"The file has {len(headers)} columns; at most {MAX_COLUMNS}")
            continue
        total += 1
        if total > max_rows:
            raise _refuse("TOO_MANY_ROWS", f"The file has more than {max_rows:,} data rows; split it into parts")
        if len(sample) < SAMPLE_ROWS:
            sample.append((number, cells))
    if headers is None:
        raise _refuse("EMPTY_FILE", "The file is empty")
    if total == 0:
        raise _refuse("NO_DATA_ROWS", "The file has a header but no data rows")
    return Inspection(source=source, headers=headers, header_row=header_row, total_rows=total, sample=sample)
