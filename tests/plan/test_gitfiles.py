"""Reading a revision's files for validate and show (changeguard/plan/gitfiles.py): the blob
ids a revision's tree names are the ids of the bytes read back, `prefetch` reads what the
reader would, and unknown paths read as deleted. Real git repos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changeguard.plan.digest import blob_id
from changeguard.plan.gitfiles import RevReader, blob_ids
from tests.helpers import git, init_repo

_NAMES = st.sampled_from(["a.yaml", "db/b.yaml", "db/c d.yaml", "é.yaml", "x/y/z.txt"])


def _repo(root: Path, files: dict[str, bytes], link: bool) -> Path:
    def populate(r: Path) -> None:
        for name, data in files.items():
            (r / name).parent.mkdir(parents=True, exist_ok=True)
            (r / name).write_bytes(data)
        if link:
            os.symlink("a.yaml", r / "link.yaml")
            (r / "run.sh").write_bytes(b"#!/bin/sh\n")
            (r / "run.sh").chmod(0o755)

    return init_repo(root, populate=populate)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(_NAMES, st.binary(max_size=64), min_size=1), st.booleans())
def test_tree_ids_are_the_ids_of_the_bytes_read(tmp_path_factory: pytest.TempPathFactory,
                                                files: dict[str, bytes], link: bool) -> None:
    root = tmp_path_factory.mktemp("rev")
    repo = _repo(root / "cfg", files, link)
    paths = [*files, "link.yaml", "run.sh", "missing.yaml", "db"]
    by_tree = blob_ids(paths, RevReader(repo, "HEAD"))
    reader = RevReader(repo, "HEAD")
    by_bytes = {p: None if (d := reader(p)) is None else blob_id(d) for p in paths}
    assert by_tree == by_bytes
    assert by_tree["missing.yaml"] is None and by_tree["db"] is None


def test_prefetch_reads_what_the_reader_reads(tmp_path: Path) -> None:
    files = {f"db/t{i}.yaml": f"n: {i}\n".encode() for i in range(5)}
    repo = _repo(tmp_path / "cfg", files, link=True)
    git(repo, "rm", "-q", "db/t4.yaml")
    git(repo, "commit", "-qm", "drop t4")
    one, many = RevReader(repo, "HEAD"), RevReader(repo, "HEAD")
    paths = [*files, "link.yaml", "nowhere.yaml"]
    many.prefetch(paths)
    assert isinstance(many, RevReader)
    assert [many(p) for p in paths] == [one(p) for p in paths]
    assert many("db/t4.yaml") is None and many("link.yaml") == b"a.yaml"
