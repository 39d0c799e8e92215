"""Issue 16.7: same-named CRs in one folder or in Kustomize scopes are not one cluster.

Through the real CLI; every fixture is a minimal one written here.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

AUTO = '  - {paths: ["k8s/**"], format: auto}\n'
KUST = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"


def _write(repo: Path, files: dict[str, str]) -> None:
    (repo / ".changeguard.yaml").write_text(
        f"apiVersion: changeguard/v1\nkind: GuardConfig\nschemas:\n{AUTO}", encoding="utf-8")
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text, encoding="utf-8")


def _check(repo: Path, run_cli: RunCli) -> tuple[int, list[dict[str, object]]]:
    r = run_cli("check", "--all", "--format", "json", cwd=repo)
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)["findings"]


def _cnpg(name: str, body: str = "  instances: 3\n") -> str:
    return (f"apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: {name}\n"
            f"spec:\n{body}")


def _replica_of(source: str) -> str:
    return f"  instances: 3\n  replica:\n    enabled: true\n    source: {source}\n"


SAMPLES = {
    "k8s/samples/cluster-example-a.yaml": _cnpg("cluster-example"),
    "k8s/samples/cluster-example-b.yaml": _cnpg(
        "cluster-example", "  instances: 3\n  minSyncReplicas: 1\n  maxSyncReplicas: 2\n"),
    "k8s/samples/cluster-example-replica.yaml": _cnpg("cluster-example-replica",
                                                      _replica_of("cluster-example")),
}


def test_sample_crs_sharing_a_name_are_alternatives(repo: Path, run_cli: RunCli) -> None:
    """Two documents defining `cluster-example` are two samples, not two primaries."""
    _write(repo, SAMPLES)
    code, findings = _check(repo, run_cli)
    assert code == 0, findings


def test_each_sample_alternative_is_still_judged(repo: Path, run_cli: RunCli) -> None:
    """A cycle through one of the two definitions is still found, in that file."""
    files = dict(SAMPLES)
    files["k8s/samples/cluster-example-b.yaml"] = _cnpg(
        "cluster-example", _replica_of("cluster-example-replica"))
    _write(repo, files)
    code, findings = _check(repo, run_cli)
    assert code == 1
    assert [(f["rule"], f["file"]) for f in findings] == [
        ("replication-no-cycle", "k8s/samples/cluster-example-b.yaml")], findings


def test_kustomize_base_and_overlays_are_separate_scopes(repo: Path, run_cli: RunCli) -> None:
    """base/ and overlays/*/ each render `pg`; an overlay's replica is not a 2nd primary.

    Fails before 9ef4890 (commit 49a988e): all three `pg` copies formed one family.
    """
    files = {
        "k8s/base/kustomization.yaml": KUST + "resources: [pg.yaml]\n",
        "k8s/base/pg.yaml": _cnpg("pg"),
        "k8s/overlays/prod/kustomization.yaml": KUST + "resources: [pg.yaml, pg-dr.yaml]\n",
        "k8s/overlays/prod/pg.yaml": _cnpg("pg", "  instances: 5\n"),
        "k8s/overlays/prod/pg-dr.yaml": _cnpg("pg-dr", _replica_of("pg")),
        "k8s/overlays/staging/kustomization.yaml": KUST + "resources: [pg.yaml]\n",
        "k8s/overlays/staging/pg.yaml": _cnpg("pg", "  instances: 2\n"),
    }
    _write(repo, files)
    code, findings = _check(repo, run_cli)
    assert code == 0, findings
    # a replica in staging naming prod's dr cluster resolves nowhere, not across scopes
    files["k8s/overlays/staging/pg.yaml"] = _cnpg("pg", _replica_of("pg-dr"))
    _write(repo, files)
    code, findings = _check(repo, run_cli)
    assert code == 0, findings
