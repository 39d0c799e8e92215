"""`--format markdown` and `--format github` (SPEC §13 "Formats for review places").

Goldens for both, escaping of hostile text (a message must not end a workflow command or
break a table), and the real CLI producing them for `validate` and `check`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard.errors import InputError
from changeguard.findings import Finding, Severity
from changeguard.report import render
from tests.adversarial._samples import make_config_repo
from tests.conftest import RunCli
from tests.test_report import FILES, FINDINGS, _golden

_COMMAND = re.compile(r"^::(error|warning)( [^:]*)?::")


def test_markdown_golden() -> None:
    _golden("report.md", render(FINDINGS, "markdown", files=FILES))


def test_github_golden() -> None:
    _golden("report.github.txt", render(FINDINGS, "github", files=FILES))


def test_github_annotation_shape() -> None:
    lines = render(FINDINGS, "github", files=FILES).splitlines()
    assert lines[-1] == "5 denied, 3 warnings in 4 files"
    first = next(x for x in lines if "replication-single-primary" in x)
    assert first.startswith("::error file=db/apac-gateway.topology.yaml,line=14,"
                            "title=replication-single-primary::two nodes claim role primary")
    assert sum(x.startswith("::warning ") for x in lines) == 3
    assert sum(x.startswith("::error ") for x in lines) == 5


def test_markdown_verdicts() -> None:
    assert render([], "markdown", files=2).startswith("### changeguard: ✅ passed")
    warn = [f for f in FINDINGS if f.severity is Severity.WARN]
    assert "passed with warnings" in render(warn, "markdown", files=1)
    err = render([], "markdown", files=0, errors=[InputError("bad", file="a.yaml", line=3)])
    assert "failed" in err and "`a.yaml`:3: bad" in err


_hostile = st.lists(st.sampled_from([*"ab|\n\r%:,`<>*\\", "::error::", "%0A"]),
                    max_size=20).map("".join)


@settings(max_examples=80, deadline=None)
@given(_hostile, _hostile, _hostile)
def test_hostile_text_cannot_inject(message: str, file: str, rule: str) -> None:
    f = Finding(rule or "r", Severity.DENY, message, file or None, 3, None, message)
    gh = render([f], "github", files=1).splitlines()
    assert len(gh) == 2 and _COMMAND.match(gh[0])  # one command, one summary line
    assert "\n" not in gh[0] and "\r" not in gh[0]
    table = [x for x in render([f], "markdown", files=1).splitlines() if x.startswith("| ❌")]
    assert len(table) == 1
    assert len(re.findall(r"(?<!\\)\|", table[0])) == 6  # five cells, no injected column
    # outside code spans (where markdown shows text literally) no raw HTML
    assert "<" not in re.sub(r"`` .*? ``|`[^`]*`", "", table[0])


def test_validate_and_check_print_review_formats(tmp_path: Path, git_env: dict[str, str],
                                                 run_cli: RunCli) -> None:
    cfg_repo = make_config_repo(tmp_path / "cfg")
    topo = cfg_repo / "native" / "pair.topology.yaml"
    text = topo.read_text()
    assert "upstream: db1" in text
    topo.write_text(text.replace("upstream: db1", "upstream: db-1", 1))
    r = run_cli("check", "native/pair.topology.yaml", "--format", "github", cwd=cfg_repo)
    assert r.code == 1
    assert any(line.startswith("::error file=native/pair.topology.yaml,line=")
               and "title=replication-upstream-exists" in line for line in r.out.splitlines())
    r = run_cli("check", "native/pair.topology.yaml", "--format", "markdown", cwd=cfg_repo)
    assert r.code == 1 and r.out.startswith("### changeguard: ❌ failed")
    assert "`replication-upstream-exists`" in r.out
    r = run_cli("--format", "markdown", "check", "--all", cwd=cfg_repo)
    assert r.code == 1 and "| ❌ deny |" in r.out
    doc = json.loads(run_cli("check", "--all", "--format", "json", cwd=cfg_repo).out)
    rows = [x for x in r.out.splitlines() if x.startswith("| ❌") or x.startswith("| ⚠️")]
    assert len(rows) == len(doc["findings"])
