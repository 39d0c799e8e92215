"""Options and arguments shared by several commands (one spelling, one help text each)."""

from __future__ import annotations

from typing import Annotated

import typer

NOW_HELP = "Current time (RFC 3339 with offset); default: the clock."
# `--now` of the workflow commands, and of the read-only ones (same option, shorter help)
WorkflowNow = Annotated[str | None, typer.Option("--now", help=NOW_HELP)]
Now = Annotated[str | None, typer.Option("--now", help="Current time (RFC 3339).")]
# `--now` of the commands that write events: refused unless `clock: simulated` (SPEC §12)
WRITER_NOW_HELP = ("Event time (RFC 3339 with offset), only under `clock: simulated`; "
                   "default: the wall clock.")
WriterNow = Annotated[str | None, typer.Option("--now", help=WRITER_NOW_HELP)]
# `--format` where text and json are the choices (`commands.TEXT_JSON` checks the value)
TextOrJson = Annotated[str | None, typer.Option("--format", help="text or json.")]
ReportFormat = Annotated[str | None, typer.Option(
    "--format", help="Output format: text, json, sarif, junit, markdown or github.")]
ChangeId = Annotated[str, typer.Argument(help="Change id, e.g. CHG-2016-0403-storage.",
                                         show_default=False)]
