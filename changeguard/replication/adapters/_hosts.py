"""Address → host-name maps from /etc/hosts-style files and Vagrantfiles.

Provisioning scripts name upstreams by IP (`MASTER_HOST="192.168.57.201"`) while configs
name servers (`report-host=db1`); these maps join the two. A Vagrantfile is Ruby, so we
only recognise the two common shapes: literal `vm.define "db1"` blocks with `ip: "…"`,
and `(A..B).each do |n|` loops that build both name and IP from `n`.
"""

from __future__ import annotations

import re

_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_HOSTS_LINE = re.compile(r"\s*(" + _IPV4 + r"|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)\s+(.+)$")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*$")


def parse_hosts(text: str) -> dict[str, list[str]]:
    """`/etc/hosts` lines: `IP name [alias…]` (comments and junk ignored)."""
    out: dict[str, list[str]] = {}
    for raw in text.splitlines():
        m = _HOSTS_LINE.match(raw.split("#", 1)[0])
        if not m:
            continue
        names = [n for n in m.group(2).split() if _NAME.match(n)]
        if names:
            out.setdefault(m.group(1), []).extend(names)
    return out


def looks_like_hosts(text: str) -> bool:
    """Most non-comment lines are `IP name` pairs."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(lines) and sum(1 for ln in lines if _HOSTS_LINE.match(ln)) * 2 > len(lines)


_LOOP = re.compile(r"\(\s*(\d+)\s*\.\.(\.?)\s*(\d+)\s*\)\s*\.each\s*(?:do|\{)\s*\|\s*(\w+)\s*\|"
                   r"|(\d+)\s*\.upto\s*\(\s*(\d+)\s*\)\s*(?:do|\{)\s*\|\s*(\w+)\s*\|")
_DEFINE = re.compile(r"\.vm\.define\s*\(?\s*[\"':]([\w.-]+)[\"']?")
_HOSTNAME = re.compile(r"\.vm\.hostname\s*=\s*[\"']([\w.-]+)[\"']")
_IP_LITERAL = re.compile(r"\bip\s*(?::|=>)\s*[\"'](" + _IPV4 + r")[\"']")
_STR = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'")


def parse_vagrantfile(text: str) -> dict[str, list[str]]:
    """IP → VM names from a Vagrantfile (literal blocks and simple numeric loops)."""
    out: dict[str, list[str]] = {}
    for ip, name in [*_literal_pairs(text), *_loop_pairs(text)]:
        if name not in out.setdefault(ip, []):
            out[ip].append(name)
    return out


def _literal_pairs(text: str) -> list[tuple[str, str]]:
    """Each literal `ip: "…"` belongs to the nearest preceding `vm.define`/`vm.hostname`."""
    marks = sorted([(m.start(), m.group(1)) for m in _DEFINE.finditer(text)]
                   + [(m.start(), m.group(1)) for m in _HOSTNAME.finditer(text)])
    pairs: list[tuple[str, str]] = []
    for m in _IP_LITERAL.finditer(text):
        names = [n for pos, n in marks if pos < m.start()]
        if names:
            pairs.append((m.group(1), names[-1]))
    return pairs


def _loop_pairs(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for m in _LOOP.finditer(text):
        if m.group(4):
            lo, hi, var = int(m.group(1)), int(m.group(3)), m.group(4)
            if m.group(2):  # `a...b` excludes b
                hi -= 1
        else:
            lo, hi, var = int(m.group(5)), int(m.group(6)), m.group(7)
        if hi - lo > 1000:
            continue
        body = text[m.end():m.end() + 4000]
        templates = _templates(body, var)
        ips = [t for t in templates if re.fullmatch(_IPV4, _fill(t, var, lo))]
        names = [t for t in templates if t not in ips and _NAME.match(_fill(t, var, lo))]
        for n in range(lo, hi + 1):
            pairs += [(_fill(ip, var, n), _fill(name, var, n)) for ip in ips for name in names]
    return pairs


def _templates(body: str, var: str) -> list[str]:
    """String expressions built from `var`: `"db" + n.to_s`, `"db#{n}"` → `db{}`."""
    found: list[str] = []
    concat = re.compile(r"(\"[^\"\n]*\"|'[^'\n]*')\s*\+\s*" + re.escape(var) + r"\.to_s")
    for m in concat.finditer(body):
        found.append(m.group(1)[1:-1].replace("{", "").replace("}", "") + "{}")
    for m in _STR.finditer(body):
        s = m.group(1) if m.group(1) is not None else ""
        if "#{" + var + "}" in s and "{}" not in s:
            found.append(s.replace("{}", "").replace("#{" + var + "}", "{}"))
    return list(dict.fromkeys(t for t in found if t.count("{}") == 1))


def _fill(template: str, var: str, n: int) -> str:
    return template.replace("{}", str(n))
