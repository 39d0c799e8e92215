"""Property tests for the hook's parsers: raw diffs, cat-file batches, the light config."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from changeguard.config.light import LightConfig, parse_light_config
from changeguard.errors import ConfigError
from changeguard.git import Staged, _parse_batch, parse_raw_diff
from changeguard.hook.staged import select
from changeguard.loader import JSONValue, Loaded, SourceMap

HEX = st.text("0123456789abcdef", min_size=40, max_size=40).filter(lambda h: h != "0" * 40)
PATH = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
               min_size=1, max_size=40)


@st.composite
def raw_entries(draw: st.DrawFn) -> list[Staged]:
    out = []
    for path in draw(st.lists(PATH, max_size=8, unique=True)):
        status = draw(st.sampled_from("AMDT"))
        blob = None if status == "D" else draw(HEX)
        mode = "000000" if status == "D" else draw(st.sampled_from(["100644", "100755"]))
        out.append(Staged(path, blob, status, mode))
    return out


def render_raw(entries: list[Staged]) -> bytes:
    """What `git diff --cached --raw -z --no-abbrev` prints for these entries."""
    parts = []
    for e in entries:
        old = "0" * 40 if e.status == "A" else "1" * 40
        new = e.blob or "0" * 40
        parts.append(f":100644 {e.mode} {old} {new} {e.status}".encode())
        parts.append(e.path.encode("utf-8"))
    return b"".join(p + b"\0" for p in parts)


@given(raw_entries())
def test_raw_diff_round_trip(entries: list[Staged]) -> None:
    assert parse_raw_diff(render_raw(entries)) == entries


@given(st.lists(st.one_of(st.none(), st.binary(max_size=64)), max_size=8))
def test_batch_output_round_trip(blobs: list[bytes | None]) -> None:
    out = b"".join(
        b"name missing\n" if b is None else b"%s blob %d\n%s\n" % (b"f" * 40, len(b), b)
        for b in blobs)
    assert _parse_batch(out, len(blobs)) == blobs


JSON: st.SearchStrategy[JSONValue] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)
KEYS = st.sampled_from(["guarded", "plans", "schemas", "log", "freezes", "reviewers",
                        "max_file_bytes", "kind"])


@given(st.dictionaries(KEYS, JSON, max_size=6))
def test_light_config_returns_config_or_config_error(data: dict[str, JSONValue]) -> None:
    try:
        cfg = parse_light_config(Loaded(data, SourceMap(".changeguard.yaml", {"": 1})))
    except ConfigError as e:
        assert e.file == ".changeguard.yaml" and e.message
    else:
        assert isinstance(cfg, LightConfig)
        assert all(isinstance(g, str) for g in cfg.guarded)


@given(raw_entries())
def test_guarded_files_are_never_plans(entries: list[Staged]) -> None:
    # SPEC §12: a `plans:` glob must not unguard a guarded file (`plans: "db/**"`)
    cfg = LightConfig(guarded=("d*/**",), plans="*")
    sel = select(cfg, entries, [])
    guarded = {s.path for s in sel.guarded}
    assert guarded == {s.path for s in entries if s.path.lower().startswith("d")
                       and "/" in s.path}
    assert guarded.isdisjoint(sel.plans)
    assert set(sel.plans) <= {s.path for s in entries if s.blob is not None} - guarded
