"""Commands of the change workflow and the log: build a Session, run, print, exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.changelog.workflow import Outcome, Session
from changeguard.commands.output import emit
from changeguard.context import TEXT_JSON, Format, Globals, parse_now, pick_format, repo_root
from changeguard.errors import RefusedError

# `show` also renders a PR comment (SPEC §13 "Formats for review places")
SHOW_FORMATS: tuple[Format, ...] = (*TEXT_JSON, Format.MARKDOWN)

if TYPE_CHECKING:
    from changeguard.changelog.binding import Binding
    from changeguard.changelog.store import Git
    from changeguard.model import GuardConfig


def session(g: Globals, now: str | None, *, writes: str | None,
            judge: bool = False, reader: bool = False) -> Session:
    """Repo, the trusted config (SPEC §12) and clock for one command (`writes`: a writer's
    name, None when read-only; `reader`: `list`/`show`, which read the trusted config
    without building the pydantic model unless they need more than its reader keys)."""
    from changeguard.changelog.store import Git
    from changeguard.config.trusted import (
        config_rel,
        find_trusted,
        full_config,
        reader_config,
        working_tree_differs,
    )
    from changeguard.errors import ConfigError

    repo = repo_root(g)
    git = Git(repo)
    trusted = find_trusted(git, config_rel(repo, g.config), judge=judge,
                           explicit=g.trusted_rev, required=g.config is not None)
    if trusted.sha is None:
        raise ConfigError("the repository has no commit yet, so there is no trusted config",
                          hint="commit .changeguard.yaml to the trusted branch (trust.branch, "
                               "default main) first")
    config = reader_config(git, trusted) if reader and writes is None and not judge \
        else full_config(git, trusted)
    if writes is not None and not judge and config.log.remote and _fetched_trusted(git, config):
        fresh = find_trusted(git, trusted.config_rel, judge=judge, explicit=g.trusted_rev,
                             required=g.config is not None)
        if fresh.sha != trusted.sha:
            trusted, config = fresh, full_config(git, fresh)
    if writes is not None:  # --now on a writer needs `clock: simulated` (SPEC §12 "Time")
        from changeguard.clock import permit_now

        permit_now(now, config.clock, f"`{writes}`", trusted.display)
    if not judge and working_tree_differs(repo, trusted):
        print(f"note: using the config of the trusted revision {trusted.display}; the "
              "working tree's differs (governance edits take effect once a change plan "
              "lands them)", file=sys.stderr)
    return Session(repo, config, parse_now(now), trusted=trusted, _git=git)


def _fetched_trusted(git: Git, config: GuardConfig) -> bool:
    """Writers with a remote fetch the trusted branch first (SPEC §12); True when fetched."""
    from changeguard.changelog.remote import fetch_trusted

    assert config.log.remote is not None
    return fetch_trusted(git, config.log.remote, config.trust.branch)


def show_outcome(o: Outcome) -> int:
    """Print an outcome (stdout, then stderr); its exit code."""
    for line in o.out:
        emit(line + "\n" if isinstance(line, str) else line)
    for line in o.err:
        print(line, file=sys.stderr)
    return o.code


def run(g: Globals, now: str | None, fn: Callable[[Session], Outcome], *,
        writes: str | None, judge: bool = False, reader: bool = False) -> int:
    """Run one workflow action (`writes`: a writer's name, None if read-only); print it."""
    s = session(g, now, writes=writes, judge=judge, reader=reader)
    try:
        return show_outcome(fn(s))
    finally:
        s.close()


def run_submit(g: Globals, plan: Path, now: str | None) -> int:
    """`submit PLAN`."""
    from changeguard.changelog.workflow import submit

    return run(g, now, lambda s: submit(s, plan), writes="submit")


def run_event(g: Globals, kind: str, change_id: str, now: str | None, *,
              comment: str | None = None, reason: str | None = None,
              verified: tuple[str, ...] = ()) -> int:
    """approve/reject/start/complete/rollback/cancel/review."""
    from changeguard.changelog.workflow import change_event

    return run(g, now, lambda s: change_event(s, kind, change_id, comment=comment,
                                              reason=reason, verified=verified),
               writes=kind)


def run_review(g: Globals, kind: str, change_id: str, now: str | None, *,
               revision: int | None, digest: str | None, comment: str | None = None,
               reason: str | None = None) -> int:
    """approve/reject of exactly the revision the reviewer names, or (on a terminal) the one
    shown and confirmed (SPEC §13)."""
    from changeguard.changelog.binding import Binding, parse_digest
    from changeguard.changelog.workflow import change_event

    given = Binding(revision, parse_digest(digest))  # a malformed digest: exit 2 first

    def act(s: Session) -> Outcome:
        binding = given if given.given or not _on_terminal() else _confirm(s, kind, change_id)
        if binding is None:
            return Outcome(1, [], [f"{change_id}: not confirmed; nothing was recorded"])
        return change_event(s, kind, change_id, comment=comment, reason=reason,
                            binding=binding)

    return run(g, now, act, writes=kind)


def _on_terminal() -> bool:
    """Ask only a person: stdin and stdout both terminals (SPEC §13)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _confirm(s: Session, kind: str, change_id: str) -> Binding | None:
    """Show the reviewer's summary and ask; the binding to what was shown, or None for no."""
    from changeguard.changelog.binding import Binding
    from changeguard.changelog.workflow import show_view
    from changeguard.report.review import render_show_text

    view = show_view(s, change_id)  # read once: the text shown and the binding agree
    emit(render_show_text(view))
    for line in tip_warnings(s):
        print(line, file=sys.stderr)
    revision, digest = view.st["revision"], view.st["digest"]
    # no emit(): the question stays on the line the answer is typed on
    sys.stdout.write(f"{kind.capitalize()} revision {revision} of {change_id}? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    # what was shown, by digest too: a re-submit before the answer is refused, not approved
    return Binding(revision, digest) if answer in ("y", "yes") else None


def run_freeze(g: Globals, reason: str, until: str | None, now: str | None) -> int:
    """`freeze --reason [--until]`."""
    from changeguard.changelog.workflow import freeze

    end = parse_now(until) if until else None
    return run(g, now, lambda s: freeze(s, reason, end), writes="freeze")


def run_unfreeze(g: Globals, now: str | None) -> int:
    """`unfreeze`."""
    from changeguard.changelog.workflow import unfreeze

    return run(g, now, unfreeze, writes="unfreeze")


def tip_warnings(s: Session) -> list[str]:
    """Notes on the log `show`/`list` read: a tip that does not verify, how old it is (§12)."""
    from changeguard.changelog.store import ref_tip
    from changeguard.changelog.verified import is_known, trusted_fingerprint

    out = stale_note(s)
    fp = trusted_fingerprint(s.trusted) if s.trusted is not None else None
    tip = ref_tip(s.git, s.ref)
    if tip is None or (fp is not None and is_known(s.git, tip, fp)):
        return out  # a known tip: the replay machinery is not even imported (issue 17)
    from changeguard.changelog.verify import first_problem

    bad = first_problem(s.git, s.config, fp, tip=tip, trusted=s.trusted)
    if bad is None:
        return out
    return [*out, f"warning: the change log does not verify at {bad.commit}: {bad.message}",
            "  hint: what is shown may be forged; run `changeguard log verify`"]


def stale_note(s: Session) -> list[str]:
    """With a log remote: how long ago this clone last fetched the log (else nothing)."""
    if not s.config.log.remote:
        return []
    from changeguard.changelog.freshness import freshness_note
    from changeguard.changelog.verified import common_dir

    return [f"note: {freshness_note(common_dir(s.git), s.config.log.remote)}"]


def _missing_change(s: Session, e: RefusedError) -> RefusedError:
    """`show ID` of an ID this clone does not have: maybe it is just stale (SPEC §12)."""
    remote = s.config.log.remote
    if not remote or not e.message.startswith("no change "):
        return e
    from changeguard.changelog.freshness import sync_hint
    from changeguard.changelog.verified import common_dir

    return RefusedError(e.message, hint=sync_hint(common_dir(s.git), remote))


def run_show(g: Globals, change_id: str, fmt: str | None, now: str | None, *,
             diff: bool = False, since_revision: int | None = None) -> int:
    """`show ID [--diff] [--since-revision N] [--format text|json|markdown]` (SPEC §13)."""
    from changeguard.changelog.view import view_json
    from changeguard.changelog.workflow import show_view

    f = pick_format(fmt, g, SHOW_FORMATS)

    def act(s: Session) -> Outcome:
        try:
            view = show_view(s, change_id, diff=diff, since_revision=since_revision)
        except RefusedError as e:
            raise _missing_change(s, e) from e
        if f == Format.JSON:
            text = json.dumps(view_json(view), indent=2, ensure_ascii=False)
        elif f == Format.MARKDOWN:
            from changeguard.report.review import render_show_markdown

            text = render_show_markdown(view)
        else:
            from changeguard.report.review import render_show_text

            text = render_show_text(view, color=g.color)
        return Outcome(0, [text], tip_warnings(s))

    return run(g, now, act, writes=None, reader=True)


def run_list(g: Globals, state: str | None, only_overdue: bool, fmt: str | None,
             now: str | None) -> int:
    """`list [--state S] [--overdue] [--format text|json]`."""
    from changeguard.changelog.workflow import list_output

    f = pick_format(fmt, g, TEXT_JSON)

    def act(s: Session) -> Outcome:
        # rows come rendered (no indent for JSON): at 10k changes encoding them was most of
        # `list`'s cost, so the cache keeps each row as printed (changelog/listing.py)
        return Outcome(0, [list_output(s, state, only_overdue, f)], tip_warnings(s))

    return run(g, now, act, writes=None, reader=True)


def run_verify(g: Globals, fmt: str | None, from_scratch: bool = False) -> int:
    """`log verify [--from-scratch] [--format json]`: exit 1 names the first bad commit."""
    from changeguard.changelog.verified import trusted_fingerprint
    from changeguard.changelog.verify import model_fingerprint, verify_remembered

    f = pick_format(fmt, g, TEXT_JSON)

    def act(s: Session) -> Outcome:
        fp = trusted_fingerprint(s.trusted) if s.trusted is not None else \
            model_fingerprint(s.config)
        rep = verify_remembered(s.git, s.config, fp, trusted=s.trusted,
                                believe_cache=not from_scratch)
        if f == "json":
            return Outcome(0 if rep.ok else 1, [json.dumps(rep.to_json(), indent=2)])
        note = [f"note: {rep.legacy_events} event(s) predate Changeguard-Config and were "
                "judged under the trusted config"] if rep.legacy_events else []
        if rep.ok:
            return Outcome(0, [f"change log OK: {rep.events} event(s) verified", *note])
        first = rep.problems[0]
        return Outcome(1, [f"{p.commit}: {p.message}" for p in rep.problems] + note,
                       [f"error: change log verification FAILED at {first.commit}: "
                        f"{first.message}"])

    return run(g, None, act, writes=None, judge=True)


def run_sync(g: Globals, now: str | None) -> int:
    """`log sync`: exit 1 when a local event no longer applies."""
    from changeguard.changelog.remote import sync
    from changeguard.changelog.workflow import world_for

    def act(s: Session) -> Outcome:
        lines = sync(s.git, s.config, world_for(s), s.config.require_signed)
        dropped = [x for x in lines if x.startswith("dropped")]
        return Outcome(1 if dropped else 0, lines[len(dropped):], dropped)

    return run(g, now, act, writes="log sync")
