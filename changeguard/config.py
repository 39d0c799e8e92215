"""Loading `.changeguard.yaml` (SPEC §3): located errors, did-you-mean, sane defaults."""

from __future__ import annotations

from pathlib import Path

from changeguard.errors import ConfigError, InputError
from changeguard.loader import load_file
from changeguard.model import GuardConfig

CONFIG_NAME = ".changeguard.yaml"


def config_path(repo: Path, path: Path | None) -> Path:
    """The config file in use: `--config` or `<repo>/.changeguard.yaml`."""
    return path if path is not None else repo / CONFIG_NAME


def load_config(repo: Path, path: Path | None = None) -> GuardConfig:
    """The repo's GuardConfig; a default one when the repo has none (and no --config)."""
    p = config_path(repo, path)
    if path is None and p.is_symlink():
        _refuse_escaping_link(p, repo)
    if not p.exists():
        if path is not None:
            raise ConfigError(f"config file {path} does not exist",
                              hint="run `changeguard init` or fix --config")
        return GuardConfig(apiVersion="changeguard/v1", kind="GuardConfig")
    display = _display(repo, p)
    try:
        loaded = load_file(p, display)
    except InputError as e:
        raise ConfigError(e.message, file=e.file, line=e.line, hint=e.hint) from e
    if not isinstance(loaded.data, dict):
        raise ConfigError("config must be a mapping", file=display, line=1,
                          hint="start from `changeguard init`")
    from pydantic import ValidationError

    from changeguard.validation import problems

    try:
        return GuardConfig.model_validate(loaded.data)
    except ValidationError as e:
        first = next(problems(e, GuardConfig, loaded.source))
        raise ConfigError(first.message, file=display, line=first.line,
                          hint=first.hint or "see docs/config.md") from e


def _refuse_escaping_link(p: Path, repo: Path) -> None:
    """The repo's own config must not be a link out of it, nor dangle (SPEC §10)."""
    root, real = repo.resolve(), p.resolve()
    if (real != root and root not in real.parents) or not real.exists():
        raise ConfigError("symlink points outside the repository (or nowhere)", file=CONFIG_NAME,
                          hint="replace the link with the file itself, or pass --config")


def _display(repo: Path, p: Path) -> str:
    try:
        return p.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(p)
