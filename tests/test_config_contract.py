"""Contract: the hook's light config view and the full GuardConfig view are one reading.

Both must accept and reject the same documents (every case of
tests/adversarial/test_config_inputs.py, plus generated ones), at the same line, and read the
same values (issue 13 §2). Both go through the one locator `config.load.read_config`.
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changeguard.config import defaults, load_config
from changeguard.config.light import LightConfig, load_light_config, parse_light_config, view_of
from changeguard.config.load import parse_config
from changeguard.errors import ConfigError
from changeguard.loader import JSONValue, Loaded, SourceMap
from changeguard.model import GuardConfig, MaintenanceWindow, SchemaMapping
from tests.adversarial.test_config_inputs import CASES, _text

CFG = ".changeguard.yaml"


def _both(repo: Path) -> tuple[ConfigError | GuardConfig, ConfigError | LightConfig]:
    full: ConfigError | GuardConfig
    light: ConfigError | LightConfig
    try:
        full = load_config(repo)
    except ConfigError as e:
        full = e
    try:
        light = load_light_config(repo)
    except ConfigError as e:
        light = e
    return full, light


@pytest.mark.parametrize("case", list(CASES))
def test_both_views_refuse_every_adversarial_case_at_the_same_line(tmp_path: Path,
                                                                    case: str) -> None:
    data, line, _words = CASES[case]()
    (tmp_path / CFG).write_bytes(data)
    full, light = _both(tmp_path)
    assert isinstance(full, ConfigError), f"full view accepted {case}"
    assert isinstance(light, ConfigError), f"light view accepted {case}"
    assert (light.file, light.line) == (full.file, full.line) == (CFG, light.line)
    if line is not None:
        assert light.line == line
    assert light.exit_code == full.exit_code == 2


def test_both_views_read_the_same_values(tmp_path: Path) -> None:
    text = _text() + ("log: {ref: refs/heads/cg/log, remote: origin}\nmax_file_bytes: 1000\n"
                      "freezes:\n- {name: f, start: '2026-09-01T00:00:00+08:00', "
                      "end: '2026-09-15T00:00:00Z', reason: r}\n")
    text = text.replace("freezes: []\n", "")
    (tmp_path / CFG).write_text(text)
    full, light = _both(tmp_path)
    assert isinstance(full, GuardConfig) and isinstance(light, LightConfig)
    assert light == view_of(full, CFG)
    assert light.log_remote == "origin" and light.max_file_bytes == 1000
    assert light.schemas and light.freezes and light.reviewers  # the comparison is not vacuous


def test_missing_config_reads_the_same_defaults(tmp_path: Path) -> None:
    full, light = _both(tmp_path)
    assert isinstance(full, GuardConfig) and isinstance(light, LightConfig)
    assert light == view_of(full)


def test_one_set_of_keys_and_defaults() -> None:
    def keys(model: type[typing.Any]) -> tuple[str, ...]:
        return tuple(f.alias or n for n, f in model.model_fields.items())

    assert keys(GuardConfig) == defaults.KEYS
    assert keys(SchemaMapping) == defaults.SCHEMA_KEYS
    assert keys(MaintenanceWindow) == defaults.WINDOW_KEYS
    fields = GuardConfig.model_fields
    assert keys(fields["log"].annotation) == defaults.LOG_KEYS
    assert typing.get_args(typing.get_args(SchemaMapping.model_fields["format"].annotation)[0]
                           ) == defaults.FORMATS
    cfg = GuardConfig.model_validate({"apiVersion": "changeguard/v1", "kind": "GuardConfig"})
    assert (cfg.plans, cfg.log.ref, cfg.max_file_bytes, tuple(cfg.policies)) == (
        defaults.DEFAULT_PLANS, defaults.DEFAULT_LOG_REF, defaults.DEFAULT_MAX_BYTES,
        defaults.DEFAULT_POLICIES)


def test_light_view_refuses_a_config_link_out_of_the_repo(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "shared.yaml"
    repo.mkdir()
    outside.write_text(_text())
    (repo / CFG).symlink_to(outside)
    full, light = _both(repo)
    assert isinstance(full, ConfigError) and isinstance(light, ConfigError)
    assert "outside" in light.message and light.message == full.message
    # --config may name any file, in both views
    assert load_light_config(repo, outside).guarded == tuple(load_config(repo, outside).guarded)


_SCALAR = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(
    ["", "x", "UTC", "Mars/Olympus", "sun", "sunday", "01:00", "24:00", "mysql", "mysq",
     "refs/heads/x", "a@b.c", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "db/**"])
_VALUE: st.SearchStrategy[JSONValue] = st.recursive(
    _SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["paths", "schema", "format", "name", "days", "start", "end",
                         "timezone", "email", "roles", "ref", "remote", "reason", "bogus"]),
        inner, max_size=4), max_leaves=8)
_KEY = st.sampled_from([*defaults.KEYS[2:], "gaurded", "lead_time_hour"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEY, _VALUE, max_size=4))
def test_generated_documents_are_judged_alike(extra: dict[str, JSONValue]) -> None:
    data: dict[str, JSONValue] = {"apiVersion": "changeguard/v1", "kind": "GuardConfig",
                                  **extra}
    loaded = Loaded(data, SourceMap(CFG, {"": 1}))
    outcomes = []
    for parse in (parse_config, parse_light_config):
        try:
            parse(loaded)
        except ConfigError:
            outcomes.append("refused")
        else:
            outcomes.append("accepted")
    assert outcomes[0] == outcomes[1], (yaml.safe_dump(data), outcomes)


def _leaves(value: JSONValue, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _base() -> dict[str, JSONValue]:
    data = yaml.safe_load(_text())
    data["freezes"] = [{"name": "f", "start": "2026-09-01T00:00:00+08:00",
                        "end": "2026-09-15T00:00:00+08:00", "reason": "r"}]
    data["log"] = {"ref": "refs/heads/changeguard/log", "remote": "origin"}
    return typing.cast(dict[str, JSONValue], data)


_PATHS = [p for p in _leaves(_base()) if len(p) >= 2 or p[:1] not in (("apiVersion",),)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_PATHS), _VALUE | st.floats(allow_nan=False, width=32))
def test_one_mutated_value_is_judged_alike(path: tuple[str | int, ...],
                                           value: JSONValue) -> None:
    data = _base()
    node: typing.Any = data
    for part in path[:-1]:
        node = node[part]
    if path:
        node[path[-1]] = value
    loaded = Loaded(data, SourceMap(CFG, {"": 1}))
    outcomes = []
    for parse in (parse_config, parse_light_config):
        try:
            parse(loaded)
        except ConfigError:
            outcomes.append("refused")
        else:
            outcomes.append("accepted")
    assert outcomes[0] == outcomes[1], (path, value, outcomes)
