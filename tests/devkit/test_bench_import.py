"""`metis bench import` is mounted in the CLI and prints its JSON; bad counts are a usage error."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lti_tool.cli import cli


def test_bench_import_prints_json() -> None:
    out = CliRunner().invoke(cli, ["bench", "import", "--questions", "20", "--depth", "5"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["questions"]["20"]["imported"] == 20
    assert report["nesting"]["5"]["imported"] == 1


def test_bad_counts_are_a_usage_error() -> None:
    out = CliRunner().invoke(cli, ["bench", "import", "--questions", "many"])
    assert out.exit_code == 2 and "whole numbers" in out.output
