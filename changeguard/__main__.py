"""Entry point for `changeguard` and `python -m changeguard`.

`changeguard check …`, `show …`, `list …`, `validate …` and `log verify …` are dispatched
before the CLI framework is imported (issue 17): typed at the prompt, `check --staged` takes
the hook's light path at the hook's cost, and `check --all` / `check FILE…` / the reviewer's
`show` / `list` / `validate` / `log verify` skip Typer's start-up (Typer imports pydantic
and builds every command).
A command line this module can read exactly as the Typer app would is run through the
`commands` function the Typer command calls; anything else (help, version, unknown or
malformed options, `--`) goes to the Typer app, so usage errors and help read the same on
both paths.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (`check --staged`)
if TYPE_CHECKING:
    from changeguard.commands import Globals

# The options of the app callback and of `check` (cli/__init__.py, cli/check.py): value
# options map to their parameter name, flags likewise. A new option there that is missing
# here merely sends that command line to Typer.
_GLOBAL_VALUES = {"--repo": "repo", "--config": "config", "--trusted-rev": "trusted_rev",
                  "--format": "fmt"}
_GLOBAL_FLAGS = {"--no-color": "no_color", "--verbose": "verbose", "-v": "verbose"}
_CHECK_VALUES = {"--format": "fmt", "--now": "now", "--range": "rev_range"}
_CHECK_FLAGS = {"--staged": "staged", "--all": "all_files", "--verbose": "verbose",
                "-v": "verbose"}

Parsed = tuple[dict[str, str | bool], list[str]]


def _section(tokens: Sequence[str], values: dict[str, str], flags: dict[str, str],
             stop_at_positional: bool) -> tuple[Parsed, int] | None:
    """Options and positionals of one section, and where it ended; None: ask click."""
    opts: dict[str, str | bool] = {}
    rest: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "-" or not tok.startswith("-"):
            if stop_at_positional:
                break
            rest.append(tok)
            i += 1
            continue
        name, eq, value = tok.partition("=")
        if name in values:
            if not eq:
                i += 1
                value = tokens[i] if i < len(tokens) else ""
            if not value or value.startswith("-"):  # click's own message for these
                return None
            opts[values[name]] = value
        elif name in flags and not eq:
            opts[flags[name]] = True
        else:  # --help, --version, `--`, unknown or combined short options
            return None
        i += 1
    return (opts, rest), i


# the read-only workflow commands (cli/workflow.py show, list): values, flags, positionals
_SHOW_VALUES = {"--format": "fmt", "--now": "now", "--since-revision": "since_revision"}
_SHOW_FLAGS = {"--diff": "diff"}
_LIST_VALUES = {"--format": "fmt", "--now": "now", "--state": "state"}
_LIST_FLAGS = {"--overdue": "overdue"}
# cli/plan.py validate: PLAN… (at least one), options only
_VALIDATE_VALUES = {"--now": "now", "--format": "fmt", "--rev": "rev", "--base": "base",
                    "--output": "output", "-o": "output"}
# name -> (value options, flags, (fewest, most) positionals; most None: any number)
_COMMANDS: dict[str, tuple[dict[str, str], dict[str, str], tuple[int, int | None]]] = {
    "check": (_CHECK_VALUES, _CHECK_FLAGS, (0, None)),
    "show": (_SHOW_VALUES, _SHOW_FLAGS, (1, 1)),
    "list": (_LIST_VALUES, _LIST_FLAGS, (0, 0)),
    "validate": (_VALIDATE_VALUES, {}, (1, None)),
    "log verify": ({"--format": "fmt"}, {"--from-scratch": "from_scratch"}, (0, 0)),
}

Command = tuple[str, dict[str, str | bool], dict[str, str | bool], list[str]]


def command_line(argv: Sequence[str]) -> Command | None:
    """(command, global options, its options, positionals) of a command line this module
    runs itself, else None (the Typer app will)."""
    head = _section(argv, _GLOBAL_VALUES, _GLOBAL_FLAGS, stop_at_positional=True)
    if head is None:
        return None
    (globals_, _), at = head
    if at >= len(argv):
        return None
    if argv[at] == "log" and argv[at + 1:at + 2] == ["verify"]:  # a group's command
        name, at = "log verify", at + 2
    elif argv[at] in _COMMANDS and " " not in argv[at]:
        name, at = argv[at], at + 1
    else:
        return None
    values, flags, positionals = _COMMANDS[name]
    tail = _section(argv[at:], values, flags, stop_at_positional=False)
    if tail is None:
        return None
    (local, rest), _ = tail
    fewest, most = positionals
    if len(rest) < fewest or (most is not None and len(rest) > most):
        return None  # click's message for a missing or extra argument
    rev = local.get("since_revision")
    if isinstance(rev, str) and not (rev.isdigit() and rev.isascii() and int(rev) >= 1):
        return None  # click's message for a bad integer or one below its minimum
    return name, globals_, local, rest


def check_command(argv: Sequence[str]) -> tuple[dict[str, str | bool], dict[str, str | bool],
                                                  list[str]] | None:
    """(global options, check options, files) of a `check` command line, else None."""
    got = command_line(argv)
    if got is None or got[0] != "check":
        return None
    return got[1], got[2], got[3]


def _str(opts: dict[str, str | bool], key: str) -> str | None:
    value = opts.get(key)
    return value if isinstance(value, str) else None


def _call(name: str, g: Globals, local: dict[str, str | bool], rest: list[str]) -> int:
    """The `commands` function the Typer command `name` calls, with the same arguments."""
    if name == "check":
        from changeguard.commands.check import run_check

        return run_check(g, files=rest, staged=bool(local.get("staged")),
                         all_files=bool(local.get("all_files")),
                         fmt=_str(local, "fmt"), verbose=bool(local.get("verbose")),
                         now=_str(local, "now"), rev_range=_str(local, "rev_range"))
    if name == "validate":
        from changeguard.commands.plan import run_validate

        output = _str(local, "output")
        return run_validate(g, [Path(p) for p in rest], now=_str(local, "now"),
                            fmt=_str(local, "fmt"), rev=_str(local, "rev"),
                            base=_str(local, "base") or "HEAD",
                            output=Path(output) if output is not None else None)
    if name == "log verify":
        from changeguard.commands.workflow import run_verify

        return run_verify(g, _str(local, "fmt"), bool(local.get("from_scratch")))
    if name == "show":
        from changeguard.commands.workflow import run_show

        rev = _str(local, "since_revision")
        return run_show(g, rest[0], _str(local, "fmt"), _str(local, "now"),
                        diff=bool(local.get("diff")),
                        since_revision=int(rev) if rev is not None else None)
    from changeguard.commands.workflow import run_list

    return run_list(g, _str(local, "state"), bool(local.get("overdue")),
                    _str(local, "fmt"), _str(local, "now"))


def _without_cycle_collector() -> None:
    """`validate`, `list` and `show` run with Python's cycle collector off (issue 17).

    Their start-up (pydantic, the models, PyYAML) creates some 10^5 objects that all live
    until exit: the collector ran ~55 times on them in `validate` (~25 in `list`), freed
    almost nothing and cost a tenth of the run. What one run leaves behind in cycles is
    small and freed at exit; the large allocations (YAML node graphs) already run with the
    collector off (`loader`). Not `check`: `check --all` reads any number of files.
    """
    import gc

    gc.disable()


def run_fast(cmd: Command) -> int:
    """What `cli.main` does for this command line, minus the framework (same handler)."""
    if cmd[0] in ("check", "list", "show"):  # as the hook does: `inspect` loads on first use
        from changeguard.hook import _defer  # noqa: F401
    if cmd[0] in ("validate", "list", "show"):
        _without_cycle_collector()
    from changeguard.commands import Globals
    from changeguard.errors import ChangeguardError

    name, globals_, local, rest = cmd
    repo, config = _str(globals_, "repo"), _str(globals_, "config")
    color = (not globals_.get("no_color") and "NO_COLOR" not in os.environ
             and sys.stdout.isatty())
    g = Globals(repo=Path(repo) if repo else None, config=Path(config) if config else None,
                fmt=_str(globals_, "fmt"), color=color, verbose=bool(globals_.get("verbose")),
                trusted_rev=_str(globals_, "trusted_rev")
                or os.environ.get("CHANGEGUARD_TRUSTED_REV") or None)
    try:
        return _call(name, g, local, rest)
    except ChangeguardError as e:
        print(e.render(), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return 130
    except Exception:  # as cli.main: exit 2, never Python's 1 (which would read as "deny")
        import traceback

        print("internal error: please report it with the traceback below", file=sys.stderr)
        traceback.print_exc()
        return 2


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down: after `log verify` of a big
    log that is freeing every object of the replay and module one by one (~0.15 s at 10k
    changes) for nothing. Only when no exit handler was registered (coverage, a library
    caller's) and the output is flushed; any failure to flush exits the usual way."""
    import atexit

    if atexit._ncallbacks() != 0:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def run() -> None:
    # shell completion (`--install-completion`) is click's business, whatever argv says
    completing = any(k.startswith("_CHANGEGUARD") and k.endswith("_COMPLETE") for k in os.environ)
    parsed = None if completing else command_line(sys.argv[1:])
    if parsed is not None:
        code = run_fast(parsed)
        if parsed[0] == "log verify":
            _exit_now(code)
        raise SystemExit(code)
    from changeguard.cli import main

    raise SystemExit(main())


if __name__ == "__main__":
    run()
