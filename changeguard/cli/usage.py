"""Usage errors and help text that read like a mature tool (issue 12).

Typer may bring click as a dependency or vendor it (`typer._click`, typer ≥ 0.29), so nothing
here imports click: the exception base is found through typer's own `BadParameter`.
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import Any

import typer

from changeguard.errors import ChangeguardError

_METAVAR_BY_TYPE = {"path": "FILE", "integer": "N", "int": "N", "float": "N"}
# One vocabulary for every command's help (what the value is, not its Python type).
_OPTION_METAVARS = {
    "--now": "TIME", "--from": "TIME", "--until": "TIME", "--format": "FORMAT",
    "--output": "FILE", "--html": "FILE", "--config": "FILE", "--repo": "PATH",
    "--rev": "REV", "--base": "REV", "--range": "BASE..HEAD", "--id": "ID", "--title": "TEXT",
    "--change": "PATH", "--comment": "TEXT", "--reason": "TEXT", "--verified": "TEXT",
    "--state": "STATE", "--days": "N", "--revision": "N", "--digest": "DIGEST",
    "--since-revision": "N", "--trusted-rev": "REV",
}
_ARGUMENT_METAVARS = {
    "plans": "PLAN...", "files": "FILE...", "plan": "PLAN", "change_id": "ID", "rule": "RULE",
    "directory": "DIR",
}


class MissingCommand(ChangeguardError):
    """A group (the app, `log`, `policy`) called without its subcommand: exit 2."""

    def __init__(self, ctx: typer.Context) -> None:
        names = sorted(n for n, c in _subcommands(ctx).items() if not getattr(c, "hidden", False))
        super().__init__(f"'{ctx.command_path}' needs a command",
                         hint=f"choose one of: {', '.join(names)}; "
                              f"see '{ctx.command_path} --help'")


@cache
def usage_error_base() -> type[Exception]:
    """click's ClickException, whichever click typer uses (none is imported by name)."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "ClickException" and issubclass(cls, Exception):
            return cls
    return typer.BadParameter  # pragma: no cover - every typer has the base above


def render_usage_error(e: Exception) -> str:
    """One `error: …` line and a hint, from any click usage error."""
    ctx = getattr(e, "ctx", None)
    path = getattr(ctx, "command_path", None) or "changeguard"
    message = _message(e)
    hint = f"see '{path} --help'"
    if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
        return MissingCommand(ctx).render()
    if message.startswith("No such command") and "did you mean" not in message.lower() \
            and ctx is not None:
        name = message.split("'")[1] if message.count("'") >= 2 else ""
        close = difflib.get_close_matches(name, list(_subcommands(ctx)), n=3, cutoff=0.6)
        if close:
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? {hint}"
    possibilities = getattr(e, "possibilities", None)
    if possibilities:
        message = str(getattr(e, "message", message))
        hint = f"did you mean {' or '.join(sorted(possibilities))}? {hint}"
    return f"error: {message}\n  hint: {hint}"


def _message(e: Exception) -> str:
    fmt = getattr(e, "format_message", None)
    text = fmt() if callable(fmt) else str(e)
    return " ".join(str(text).split()) or type(e).__name__


def _subcommands(ctx: Any) -> dict[str, Any]:
    commands = getattr(ctx.command, "commands", None)
    return dict(commands) if isinstance(commands, dict) else {}


def tidy_help(command: Any) -> Any:
    """Metavars like PLAN..., FILE, ID instead of internal type names (`<list[Path]>`)."""
    for param in getattr(command, "params", []):
        _tidy_param(param)
    make_help = getattr(command, "get_help_option", None)
    if callable(make_help):  # click builds -h/--help lazily, outside `params`
        def get_help_option(ctx: Any) -> Any:
            option = make_help(ctx)
            if option is not None:
                _tidy_param(option)
            return option

        command.get_help_option = get_help_option
    for sub in _subcommands(type("C", (), {"command": command})()).values():
        tidy_help(sub)
    return command


def _tidy_param(param: Any) -> None:
    kind = getattr(param, "param_type_name", "")
    if kind == "argument":
        if param.metavar is None:
            param.metavar = _ARGUMENT_METAVARS.get(
                str(param.name), str(param.name).upper() + ("..." if param.nargs != 1 else ""))
        shown = param.metavar if param.required else f"[{param.metavar}]"
        param.get_usage_pieces = lambda ctx: [shown]
        param.display_type_rich = lambda ctx: None
    elif kind == "option":
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.display_type_rich = lambda ctx: None
            return
        if param.metavar is None:
            long = next((o for o in param.opts if o.startswith("--")), "")
            param.metavar = _OPTION_METAVARS.get(long) or _METAVAR_BY_TYPE.get(
                _type_name(param), str(param.name).upper())


def _type_name(param: Any) -> str:
    """`path`, `int`, … from click's ParamType (external click) or typer's type descriptor."""
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        if getattr(desc, "is_path", False):
            return "path"
        return str(getattr(getattr(desc, "annotation", None), "__name__", "")).lower()
    return str(getattr(getattr(param, "type", None), "name", "")).lower()


def require_command(ctx: typer.Context) -> None:
    """Callback of a group: without a subcommand it is a usage error, not a help page."""
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        raise MissingCommand(ctx)
