"""Grouping files into topologies and resolving references between clusters (SPEC §6).

Topologies are grouped by the cluster identity their format carries, else by directory.
Replica clusters (`upstream_cluster`) and declared primary clusters (`primary_cluster`)
are resolved among all topologies of one run: a CloudNativePG distributed topology whose
primary lists a `source` only for after a demotion is not a cycle, because adapters only
set `upstream_cluster` on clusters that replicate now.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from changeguard.findings import Finding
from changeguard.replication.interface import SourceFile
from changeguard.replication.model import Topology, find_cycles
from changeguard.rules import finding

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def directory_of(path: str) -> str:
    """The '/'-separated directory of a repo-relative path ('' at the top)."""
    return path.rpartition("/")[0]


def by_directory(files: Iterable[SourceFile]) -> dict[str, list[SourceFile]]:
    """Files grouped by their directory, in first-seen order."""
    groups: dict[str, list[SourceFile]] = defaultdict(list)
    for f in files:
        groups[directory_of(f.path)].append(f)
    return dict(groups)


def families(topologies: Sequence[Topology]) -> list[list[Topology]]:
    """Topologies linked by upstream/primary cluster references (connected components).

    Only references link topologies: two unrelated files that happen to share a name
    are not one family. References resolve within one scope: `base/` and
    `overlays/prod/` copies of a CR are two renderings, not two clusters (issue 16.7).

    A CR is one document. Several documents of one scope that define the same identity
    (sample CRs `cluster-example-a.yaml` and `cluster-example-b.yaml`, both
    `cluster-example`) are alternatives, never applied together (kubectl keeps the last,
    Kustomize refuses the duplicate), so no family ever holds two of them: a reference
    resolves to the definition in the referrer's own file when there is one, and a
    family reaching several definitions is judged once per choice of one (issue 16.7).
    """
    keys = [(t.scope, t.identity) for t in topologies]
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        by_key[k].append(i)
    edges = [_resolved(i, t, by_key, topologies) for i, t in enumerate(topologies)]
    out: list[list[Topology]] = []
    seen: set[tuple[int, ...]] = set()
    for group in _components(range(len(topologies)), edges):
        for members in _alternatives(group, keys, edges):
            if members in seen:
                continue
            seen.add(members)
            fam = [topologies[i] for i in members]
            if len(fam) > 1 or any(t.upstream_cluster or t.primary_cluster for t in fam):
                out.append(fam)
    return out


_MAX_ALTERNATIVES = 64  # duplicated identities are sample files: a handful, never more


def _resolved(i: int, t: Topology, by_key: dict[tuple[str, str], list[int]],
              topologies: Sequence[Topology]) -> list[int]:
    """The topologies `t`'s cluster references resolve to (its own file's copy first)."""
    out: list[int] = []
    for ref in (t.upstream_cluster, t.primary_cluster, *t.peer_clusters):
        found = [j for j in by_key.get((t.scope, ref or ""), []) if j != i]
        own = [j for j in found if topologies[j].file == t.file]
        out.extend(own or found)
    return out


def _components(nodes: Iterable[int], edges: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """Connected components of `nodes` under `edges` (undirected), in index order."""
    allowed = set(nodes)
    parent = {x: x for x in allowed}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in allowed:
        for j in edges[i]:
            if j in allowed:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in sorted(allowed):
        groups[root(i)].append(i)
    return [tuple(g) for g in groups.values()]


def _alternatives(group: tuple[int, ...], keys: Sequence[tuple[str, str]],
                  edges: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """The families of `group` once each duplicated identity keeps one definition."""
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in group:
        by_key[keys[i]].append(i)
    dups = [v for v in by_key.values() if len(v) > 1]
    if not dups:
        return [group]
    out: list[tuple[int, ...]] = []
    for choice in itertools.islice(itertools.product(*dups), _MAX_ALTERNATIVES):
        dropped = {i for v in dups for i in v} - set(choice)
        out.extend(_components([i for i in group if i not in dropped], edges))
    return out


def describe(topologies: Sequence[Topology]) -> list[str]:
    """One line per topology naming the files that formed it (for `--verbose`)."""
    return [f"topology {t.identity}" + (f" [{t.scope}]" if t.scope else "") + " from "
            + ", ".join(t.files or ((t.file,) if t.file else ())) for t in topologies]


def check_links(topologies: Sequence[Topology]) -> list[Finding]:
    """Cross-cluster invariants: one primary cluster, no cluster cycle, ids unique."""
    out: list[Finding] = []
    for fam in families(topologies):
        out.extend(_one_primary_cluster(fam))
        out.extend(_cluster_cycles(fam))
        out.extend(_family_server_ids(fam))
    return list(dict.fromkeys(out))  # alternatives of one family may repeat a finding


def _ref_line(t: Topology, key: str) -> int | None:
    return t.line_of(key)


def _one_primary_cluster(fam: list[Topology]) -> Iterator[Finding]:
    rule = "replication-single-primary"
    names = {t.identity for t in fam}
    declared = {t.primary_cluster for t in fam if t.primary_cluster}
    if len(declared) > 1:
        t = next(t for t in fam if t.primary_cluster == sorted(declared)[-1])
        yield finding(rule, "clusters disagree on the primary cluster: " + ", ".join(
            f"{x.identity} says {x.primary_cluster}" for x in fam if x.primary_cluster),
            t.file, _ref_line(t, "primary_cluster"), t.pointers.get("primary_cluster"))
    roots = [t for t in fam if not t.upstream_cluster]
    if len(roots) > 1 and len(fam) > 1:
        yield finding(rule, f"{len(roots)} primary clusters in one replication family ("
                      + ", ".join(t.identity for t in roots) + ")", roots[-1].file,
                      roots[-1].line, hint="make all but one a replica cluster")
    for t in fam:
        p = t.primary_cluster
        target = next((x for x in fam if x.identity == p), None)
        up = target.upstream_cluster if target is not None else None
        if p and up and up in names:
            yield finding(rule, f"{t.identity} declares {p} the primary cluster, but {p} "
                          f"replicates from {up}", t.file,
                          _ref_line(t, "primary_cluster"), t.pointers.get("primary_cluster"))


def _cluster_cycles(fam: list[Topology]) -> Iterator[Finding]:
    names = {t.identity: t for t in fam}
    edges = {t.identity: t.upstream_cluster for t in fam
             if t.upstream_cluster and t.upstream_cluster in names}
    for cycle in find_cycles(edges):
        t = names[min(cycle)]
        yield finding("replication-no-cycle", "replica-cluster cycle " + " -> ".join(
            [*cycle, cycle[0]]), t.file, _ref_line(t, "upstream_cluster"),
            t.pointers.get("upstream_cluster"))


def _family_server_ids(fam: list[Topology]) -> Iterator[Finding]:
    seen: dict[int, tuple[Topology, str]] = {}
    for t in fam:
        for n in t.nodes:
            if n.server_id is None:
                continue
            first = seen.get(n.server_id)
            if first is not None and first[0] is not t:
                yield finding("replication-unique-ids", f"server_id {n.server_id} of "
                              f"{t.identity}/{n.name} is also used by {first[0].identity}/"
                              f"{first[1]}", n.file or t.file, n.line_of("server_id"),
                              n.pointer_of("server_id"))
            else:
                seen.setdefault(n.server_id, (t, n.name))
