"""Item banks for teachers: import (Moodle XML, GIFT, CSV), sanitising, export, the demo bank.

`read_bank(filename, data, fmt)` picks the parser; the modules each do one job:
`model` (plain data), `sanitize` (HTML), `moodle_xml`, `gift`, `csv_format` (parsers),
`store` (database), `demo_bank` (the generated demo bank).
"""

from __future__ import annotations

from lti_tool.core.itembank import csv_format, gift, moodle_xml
from lti_tool.core.itembank.model import ImportFileError, ParseResult

FORMATS = {"moodle": "Moodle XML", "gift": "GIFT", "csv": "CSV"}
EXTENSIONS = {"xml": "moodle", "gift": "gift", "txt": "gift", "csv": "csv"}


def detect_format(filename: str, chosen: str = "auto") -> str:
    """The format the teacher chose, or the one the file name's extension implies."""
    if chosen in FORMATS:
        return chosen
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    found = EXTENSIONS.get(extension)
    if found is None:
        raise ImportFileError(
            "the format could not be told from the file name; name it .xml (Moodle XML), "
            ".gift or .txt (GIFT) or .csv, or choose the format"
        )
    return found


def read_bank(filename: str, data: bytes, chosen: str = "auto") -> ParseResult:
    """Parse an uploaded bank. Raises ImportFileError when the file as a whole is unusable."""
    parsers = {"moodle": moodle_xml.parse, "gift": gift.parse, "csv": csv_format.parse}
    return parsers[detect_format(filename, chosen)](data)
