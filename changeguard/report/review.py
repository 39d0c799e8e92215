"""The reviewer's view (SPEC §13) as text for a terminal and as markdown for a PR comment.

Pure renderers over `changelog.view.ChangeView`. Everything shown comes from the log, which
anyone who can submit writes to: every text is scrubbed of control characters, and markdown
cells and fences are escaped so a title or a file cannot break out of them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from changeguard.report._common import scrub
from changeguard.report.markdown import cell, code

if TYPE_CHECKING:
    from changeguard.changelog.view import ChangeView, FileView, Impact, ReviewView, StepView
    from changeguard.model import ChangePlan

_RED, _GREEN, _CYAN, _BOLD, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[36m", "\x1b[1m", "\x1b[0m"


def _num(minutes: float) -> str:
    return str(int(minutes)) if float(minutes).is_integer() else f"{minutes:g}"


def _span(x: StepView) -> str:
    return f"+{_num(x.offset)}..+{_num(x.offset + x.minutes)} min"


def _impact(x: StepView) -> list[str]:
    """`out: db2 (apac); primary: db1` for each topology a disruptive step hits."""
    return [f"out: {', '.join(i.out)} ({i.topology}); {_primary(i)}" for i in x.impacts]


def _primary(i: Impact) -> str:
    if i.before != i.primary and i.primary:
        return f"primary: {', '.join(i.before) or 'none'} → {', '.join(i.primary)}"
    return f"primary meanwhile: {', '.join(i.primary) or 'NONE'}"


def _review(r: ReviewView, verb: str) -> str:
    rev = f"revision {r.revision}" if r.revision is not None else "revision ?"
    stale = " (stale: a later revision replaced it)" if r.stale and verb == "approved" else ""
    text = f": {r.text}" if r.text else ""
    return f"{verb} by {r.actor} at {r.at} for {rev} ({r.digest}){stale}{text}"


def _finding(f: dict[str, object]) -> str:
    where = f"{f.get('file')}:{f.get('line')}" if f.get("line") else str(f.get("file") or "-")
    return f"{f.get('severity')} {f.get('rule')}: {f.get('message')} ({where})"


def _rollback(plan: ChangePlan) -> list[str]:
    rb = plan.rollback
    if rb is None:
        return ["none"]
    maxm = _num(rb.max_minutes) if rb.max_minutes is not None else "not set"
    tested = "yes" if rb.tested else "no"
    out = [f"trigger: {rb.trigger or 'not set'}",
           f"max minutes: {maxm}; tested: {tested}; evidence: {rb.evidence or 'none'}"]
    out += [f"step: {s.kind} {', '.join(s.targets) or '-'}, {_num(s.minutes)} min: {s.action}"
            for s in rb.steps]
    return out


def _checks(plan: ChangePlan) -> list[str]:
    return [c.check + (f" — run `{c.command}`" if c.command else "")
            + (f", expect {c.expect}" if c.expect else "") for c in plan.verification]


def _file_line(f: FileView, v: ChangeView) -> str:
    blob = f.blob[:12] if f.blob else "deleted"
    base = f.base_blob[:12] if f.base_blob else "absent"
    return f"{f.path}: proposed {blob}, {v.base_label} {base}"


# --------------------------------------------------------------- text


def render_show_text(v: ChangeView, *, color: bool = False) -> str:
    """The terminal view: essentials, timeline, rollback, checks, reviews, what is missing."""
    st = v.st
    w = st["window"]
    lines = [f"{st['id']}  {st['title']}",
             f"  state:    {st['state']} (revision {st['revision']})",
             f"  author:   {st['author']}    type: {st['type']}    risk: {st['risk']}",
             f"  services: {', '.join(st['services']) or '-'}    "
             f"environment: {st['environment'] or '-'}",
             f"  window:   {w['start']} .. {w['end']}",
             f"  digest:   {st['digest']}"]
    lines += _text_plan(v)
    lines.append("  findings recorded at submit:")
    lines += [f"    {_finding(f)}" for f in v.findings or []] or [
        "    none" if v.findings is not None else "    not recorded in the log"]
    lines.append("  files:")
    lines += [f"    {_file_line(f, v)}" for f in v.files] or ["    none"]
    lines.append("  reviews:")
    lines += [f"    {_review(a, 'approved')}" for a in v.approvals]
    lines += [f"    {_review(r, 'rejected')}" for r in v.rejections]
    if not v.approvals and not v.rejections:
        lines.append("    none yet")
    lines += [f"  waiting for {m}" for m in v.missing]
    if v.overdue:
        lines.append("  emergency-review: post-incident review is OVERDUE")
    lines.append("  events:")
    lines += [f"    {e['at']}  {e['event']:<9} {e['actor']}  {str(e['commit'])[:12]}"
              for e in v.events]
    lines += [f"  note: {n}" for n in v.notes]
    out = "\n".join(scrub(x) for x in lines)
    if v.diff_base is not None:
        out += "\n\n" + _text_diffs(v, color)
    if v.approve_command:
        out += f"\n\nto approve exactly what is shown:\n  {v.approve_command}"
    return out


def _text_plan(v: ChangeView) -> list[str]:
    if v.plan is None:
        return ["  plan:     not readable from the log (see notes)"]
    lines = ["  steps (offset from the window start):"]
    for x in v.steps:
        mark = "!" if x.disruptive else " "
        lines.append(f"   {mark}{_span(x):<18} {x.id or '-':<6} {x.kind:<9} "
                     f"{', '.join(x.targets) or '-':<16} {x.action}")
        lines += [f"      {i}" for i in _impact(x)]
    lines.append("  rollback:")
    lines += [f"    {x}" for x in _rollback(v.plan)]
    lines.append("  verification:")
    lines += [f"    {x}" for x in _checks(v.plan)] or ["    none"]
    lines.append("  waivers:")
    lines += [f"    {w.rule}: {w.reason}" for w in v.plan.waivers] or ["    none"]
    return lines


def _text_diffs(v: ChangeView, color: bool) -> str:
    out = [f"diff against {v.diff_base}:"]
    for f in v.files:
        if not f.diff:
            out.append(f"{f.path}: {f.note or 'no difference'}")
            continue
        if f.note:
            out.append(f"{f.path}: {f.note}")
        out += [_paint(scrub(line), color) for line in f.diff]
    return "\n".join(out)


def _paint(line: str, color: bool) -> str:
    if not color:
        return line
    if line.startswith(("---", "+++")):
        return f"{_BOLD}{line}{_RESET}"
    if line.startswith("@@"):
        return f"{_CYAN}{line}{_RESET}"
    if line.startswith("+"):
        return f"{_GREEN}{line}{_RESET}"
    if line.startswith("-"):
        return f"{_RED}{line}{_RESET}"
    return line


# --------------------------------------------------------------- markdown


def render_show_markdown(v: ChangeView) -> str:
    """A PR comment / job summary: headings, a steps table, diffs in ```diff fences."""
    st = v.st
    w = st["window"]
    out = [f"### {cell(st['id'])}: {cell(st['title'])}", "", "| | |", "|---|---|",
           f"| state | {cell(st['state'])} (revision {st['revision']}) |",
           f"| author | {code(st['author'])} |",
           f"| type / risk | {cell(st['type'])} / {cell(st['risk'])} |",
           f"| services | {cell(', '.join(st['services']) or '—')} |",
           f"| environment | {cell(st['environment'] or '—')} |",
           f"| window | {cell(w['start'])} .. {cell(w['end'])} |",
           f"| digest | {code(st['digest'])} |", ""]
    out += _md_plan(v)
    out += _md_section("Findings recorded at submit",
                       [cell(_finding(f)) for f in v.findings or []],
                       "none" if v.findings is not None else "not recorded in the log")
    out += _md_section("Reviews", [cell(_review(a, "approved")) for a in v.approvals]
                       + [cell(_review(r, "rejected")) for r in v.rejections], "none yet")
    if v.missing or v.overdue:
        extra = ["emergency-review: post-incident review is OVERDUE"] if v.overdue else []
        out += _md_section("Still missing", [cell(m) for m in v.missing + extra], "")
    if v.notes:
        out += _md_section("Notes", [cell(n) for n in v.notes], "")
    if v.diff_base is not None:
        out += _md_diffs(v)
    if v.approve_command:
        out += ["#### Approve exactly this", "", "```", v.approve_command, "```", ""]
    return "\n".join(out)


def _md_section(title: str, items: list[str], empty: str) -> list[str]:
    return [f"#### {title}", "", *([f"- {x}" for x in items] or [empty]), ""]


def _md_plan(v: ChangeView) -> list[str]:
    if v.plan is None:
        return ["#### Plan", "", "not readable from the log", ""]
    out = ["#### Steps", "", "| offset | minutes | kind | targets | action | out of service "
           "| primary meanwhile |", "|---:|---:|---|---|---|---|---|"]
    for x in v.steps:
        gone = "; ".join(f"{', '.join(i.out)} ({i.topology})" for i in x.impacts)
        prim = "; ".join(_primary(i).partition(": ")[2].replace("NONE", "**none**")
                         for i in x.impacts)
        kind = f"**{cell(x.kind)}**" if x.disruptive else cell(x.kind)
        out.append(f"| +{_num(x.offset)} | {_num(x.minutes)} | {kind} | "
                   f"{cell(', '.join(x.targets)) or '—'} | {cell(x.action)} | "
                   f"{cell(gone) or '—'} | {cell(prim) if prim else '—'} |")
    out.append("")
    out += _md_section("Rollback", [cell(x) for x in _rollback(v.plan)], "")
    out += _md_section("Verification", [cell(x) for x in _checks(v.plan)], "none")
    out += _md_section("Waivers", [f"{code(w.rule)}: {cell(w.reason)}" for w in v.plan.waivers],
                       "none")
    out += _md_section("Files", [cell(_file_line(f, v)) for f in v.files], "none")
    return out


def _md_diffs(v: ChangeView) -> list[str]:
    out = [f"#### Diff against {cell(v.diff_base or '')}", ""]
    for f in v.files:
        label = f" ({cell(f.note)})" if f.note else ""
        out += [f"**{code(f.path)}**{label}", ""]
        if f.diff:
            body = [scrub(line) for line in f.diff]
            fence = "`" * max(3, 1 + max((len(m) for b in body
                                          for m in re.findall(r"`+", b)), default=0))
            out += [f"{fence}diff", *body, fence, ""]
    return out
