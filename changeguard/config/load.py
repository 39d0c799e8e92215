"""Finding and reading `.changeguard.yaml` (SPEC §3, §10): the one locator for both views.

Stdlib + PyYAML at the top level (the hook imports this); the pydantic model is imported only
by `load_config`, the full view every command uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from changeguard.config.defaults import API_VERSION, CONFIG_NAME, KIND
from changeguard.errors import ConfigError, InputError
from changeguard.loader import Loaded, load_file

if TYPE_CHECKING:
    from changeguard.model import GuardConfig


def config_path(repo: Path, path: Path | None) -> Path:
    """The config file in use: `--config` or `<repo>/.changeguard.yaml`."""
    return path if path is not None else repo / CONFIG_NAME


def read_config(repo: Path, path: Path | None = None) -> Loaded | None:
    """The config document (None: the repo has none and no --config was given).

    The repo's own config must not be a link out of the repository (SPEC §10); `--config`
    may name any file. ConfigError (exit 2) for a missing --config or unreadable bytes.
    """
    p = config_path(repo, path)
    if path is None and p.is_symlink():
        _refuse_escaping_link(p, repo)
    if not p.exists():
        if path is not None:
            raise ConfigError(f"config file {path} does not exist",
                              hint="run `changeguard init` or fix --config")
        return None
    try:
        return load_file(p, display_name(repo, p))
    except InputError as e:
        raise ConfigError(e.message, file=e.file, line=e.line, hint=e.hint) from e


def load_config(repo: Path, path: Path | None = None) -> GuardConfig:
    """The repo's GuardConfig; a default one when the repo has none (and no --config)."""
    loaded = read_config(repo, path)
    if loaded is None:
        return default_config()
    config = parse_config(loaded)
    if not Path(loaded.file).is_absolute():  # inside the repo: a governance file (SPEC §12)
        config._file = loaded.file
    return config


def default_config() -> GuardConfig:
    """The config of a repo that has none: every default."""
    from changeguard.model import GuardConfig

    return GuardConfig.model_validate({"apiVersion": API_VERSION, "kind": KIND})


def parse_config(loaded: Loaded) -> GuardConfig:
    """Validate a config document with the full model; located ConfigError (exit 2)."""
    from pydantic import ValidationError

    from changeguard.model import GuardConfig

    if not isinstance(loaded.data, dict):
        raise ConfigError("config must be a mapping", file=loaded.file, line=1,
                          hint="start from `changeguard init`")
    try:
        return GuardConfig.model_validate(loaded.data)
    except ValidationError as e:
        from changeguard.validation import problems  # only a config that fails needs it

        first = next(problems(e, GuardConfig, loaded.source))
        raise ConfigError(first.message, file=loaded.file, line=first.line,
                          hint=first.hint or "see docs/config.md") from e


def _refuse_escaping_link(p: Path, repo: Path) -> None:
    """The repo's own config must not be a link out of it, nor dangle (SPEC §10)."""
    root, real = repo.resolve(), p.resolve()
    if (real != root and root not in real.parents) or not real.exists():
        raise ConfigError("symlink points outside the repository (or nowhere)", file=CONFIG_NAME,
                          hint="replace the link with the file itself, or pass --config")


def display_name(repo: Path, p: Path) -> str:
    """How errors name the config: repo-relative when inside the repo."""
    try:
        return p.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(p)
