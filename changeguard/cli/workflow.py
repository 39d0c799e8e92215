"""Commands: submit, approve, reject, start, complete, rollback, cancel, freeze, unfreeze,
review, show, list, log verify, log sync (SPEC §2, §7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from changeguard.cli._params import ChangeId as Id
from changeguard.cli._params import TextOrJson as Fmt
from changeguard.cli._params import WorkflowNow as Now
from changeguard.cli._params import WriterNow
from changeguard.cli.usage import require_command

ShowFormat = Annotated[str | None, typer.Option("--format", help="text, json or markdown.")]


def register(app: typer.Typer) -> None:
    """Add the workflow commands and the `log` group to the app."""
    for name, fn in (("submit", submit), ("approve", approve), ("reject", reject),
                     ("start", start), ("complete", complete), ("rollback", rollback),
                     ("cancel", cancel), ("freeze", freeze), ("unfreeze", unfreeze),
                     ("review", review), ("show", show), ("list", list_)):
        app.command(name)(fn)
    log = typer.Typer(name="log", help="Verify or sync the git-backed change log.",
                      invoke_without_command=True, callback=require_command)
    log.command("verify")(log_verify)
    log.command("sync")(log_sync)
    app.add_typer(log)


def submit(ctx: typer.Context,
           plan: Annotated[Path, typer.Argument(help="Plan file.", show_default=False)],
           now: WriterNow = None) -> int:
    """Validate a plan and record it as submitted (a changed plan becomes a new revision).

    Example: changeguard submit changes/CHG-2016-0403-storage.yaml
    """
    from changeguard.commands.workflow import run_submit

    return run_submit(ctx.obj, plan, now)


# SPEC §13: a review names what was reviewed; both given means both must be current
Revision = Annotated[int | None, typer.Option(
    "--revision", min=1, help="The revision you reviewed (`show` prints it).")]
Digest = Annotated[str | None, typer.Option(
    "--digest", help="The digest you reviewed (sha256:<64 hex>); with --revision, both "
                     "must be current.")]


def approve(ctx: typer.Context, change_id: Id, revision: Revision = None, digest: Digest = None,
            comment: Annotated[str | None, typer.Option("--comment", help="Review note.")] = None,
            now: WriterNow = None) -> int:
    """Approve exactly the revision you reviewed, as the current git identity.

    Refused when the change moved on (a re-submit); on a terminal, without --revision or
    --digest, shows the change and asks.

    Example: changeguard approve CHG-2016-0403-storage --revision 1 --comment "lgtm"
    """
    from changeguard.commands.workflow import run_review

    return run_review(ctx.obj, "approve", change_id, now, revision=revision, digest=digest,
                      comment=comment)


def reject(ctx: typer.Context, change_id: Id,
           reason: Annotated[str, typer.Option("--reason", help="Why.", show_default=False)],
           revision: Revision = None, digest: Digest = None, now: WriterNow = None) -> int:
    """Reject exactly the revision you reviewed (the author may submit a new revision).

    Example: changeguard reject CHG-1 --revision 1 --reason "no rollback evidence"
    """
    from changeguard.commands.workflow import run_review

    return run_review(ctx.obj, "reject", change_id, now, revision=revision, digest=digest,
                      reason=reason)


def start(ctx: typer.Context, change_id: Id, now: WriterNow = None) -> int:
    """Start an approved change inside its window (no active freeze unless emergency).

    Example: changeguard start CHG-1
    """
    from changeguard.commands.workflow import run_event

    return run_event(ctx.obj, "start", change_id, now)


def complete(ctx: typer.Context, change_id: Id,
             verified: Annotated[list[str] | None, typer.Option(
                 "--verified", help="A verification that passed (repeatable).")] = None,
             now: WriterNow = None) -> int:
    """Mark an in-progress change completed.

    Example: changeguard complete CHG-1 --verified "replication lag < 5s"
    """
    from changeguard.commands.workflow import run_event

    return run_event(ctx.obj, "complete", change_id, now, verified=tuple(verified or ()))


def rollback(ctx: typer.Context, change_id: Id,
             reason: Annotated[str, typer.Option("--reason", help="Why.", show_default=False)],
             now: WriterNow = None) -> int:
    """Record that an in-progress change was rolled back.

    Example: changeguard rollback CHG-1 --reason "lag > 60s"
    """
    from changeguard.commands.workflow import run_event

    return run_event(ctx.obj, "rollback", change_id, now, reason=reason)


def cancel(ctx: typer.Context, change_id: Id,
           reason: Annotated[str, typer.Option("--reason", help="Why.", show_default=False)],
           now: WriterNow = None) -> int:
    """Cancel an open change.

    Example: changeguard cancel CHG-1 --reason "superseded by CHG-2"
    """
    from changeguard.commands.workflow import run_event

    return run_event(ctx.obj, "cancel", change_id, now, reason=reason)


def review(ctx: typer.Context, change_id: Id,
           comment: Annotated[str, typer.Option("--comment", help="Review summary.",
                                                show_default=False)],
           now: WriterNow = None) -> int:
    """Record the post-incident review of an (emergency) change.

    Example: changeguard review CHG-1 --comment "root cause: ..."
    """
    from changeguard.commands.workflow import run_event

    return run_event(ctx.obj, "review", change_id, now, comment=comment)


def freeze(ctx: typer.Context,
           reason: Annotated[str, typer.Option("--reason", help="Why.", show_default=False)],
           until: Annotated[str | None, typer.Option("--until", help="End (RFC 3339).")] = None,
           now: WriterNow = None) -> int:
    """Stop the line: no guarded commits and no `start` except emergency changes.

    Example: changeguard freeze --reason "incident 42" --until 2026-01-02T00:00:00Z
    """
    from changeguard.commands.workflow import run_freeze

    return run_freeze(ctx.obj, reason, until, now)


def unfreeze(ctx: typer.Context, now: WriterNow = None) -> int:
    """Lift the active freeze.

    Example: changeguard unfreeze
    """
    from changeguard.commands.workflow import run_unfreeze

    return run_unfreeze(ctx.obj, now)


def show(ctx: typer.Context, change_id: Id,
         diff: Annotated[bool, typer.Option(
             "--diff", help="Unified diff of every changed file from the trusted revision "
                            "to the proposed content.")] = False,
         since_revision: Annotated[int | None, typer.Option(
             "--since-revision", metavar="N", min=1,
             help="Diff from revision N's proposed content (and plan) to the current one.")
         ] = None,
         fmt: ShowFormat = None, now: Now = None) -> int:
    """The reviewer's view: plan, step timeline, reviews, what is missing, how to approve.

    Example: changeguard show CHG-1 --diff
    """
    from changeguard.commands.workflow import run_show

    return run_show(ctx.obj, change_id, fmt, now, diff=diff, since_revision=since_revision)


def list_(ctx: typer.Context,
          state: Annotated[str | None, typer.Option("--state", help="Only this state.")] = None,
          overdue: Annotated[bool, typer.Option("--overdue",
                                                help="Only overdue emergency reviews.")] = False,
          fmt: Fmt = None, now: Now = None) -> int:
    """List recorded changes.

    Example: changeguard list --state approved --format json
    """
    from changeguard.commands.workflow import run_list

    return run_list(ctx.obj, state, overdue, fmt, now)


def log_verify(ctx: typer.Context, fmt: Fmt = None,
               from_scratch: Annotated[bool, typer.Option(
                   "--from-scratch",
                   help="Replay from the root even where this clone remembers a verified "
                        "tip (CI: believe nothing left by earlier runs).")] = False) -> int:
    """Verify every event of the change log; exit 1 names the first bad commit.

    Events after the newest tip this clone verified before (under the same trusted config)
    are replayed from that tip's state; `--from-scratch` replays the whole log.

    Example: changeguard log verify --format json
    """
    from changeguard.commands.workflow import run_verify

    return run_verify(ctx.obj, fmt, from_scratch)


def log_sync(ctx: typer.Context, now: WriterNow = None) -> int:
    """Fetch the remote log, replay local-only events on it, and push (never forced).

    Example: changeguard log sync
    """
    from changeguard.commands.workflow import run_sync

    return run_sync(ctx.obj, now)
