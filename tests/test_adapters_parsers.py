"""The raw parsers under the adapters: JS literals, option files, directives, SQL, hosts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changeguard.errors import InputError
from changeguard.replication.adapters._conf import (
    cnf_settings,
    parse_cnf,
    parse_conninfo,
    parse_directives,
    parse_pgconf,
    split_args,
)
from changeguard.replication.adapters._hosts import parse_hosts, parse_vagrantfile
from changeguard.replication.adapters._jslit import find_replset_configs, parse_js_literal
from changeguard.replication.adapters._sql import find_change_sources
from changeguard.replication.adapters.postgresql import parse_standby_names
from tests.test_adapters_common import CORPUS

# --- JavaScript object literals --------------------------------------------------------


def test_js_literal_shell_syntax() -> None:
    text = """// set up the set
    rs.initiate({
      _id: 'rs0', /* the name */
      members: [
        {_id: NumberInt(0), host: "a:27017", priority: 2.5,},
        {_id: 1, host: 'b:27017', votes: 0x0, hidden: true},
      ],
      settings: {heartbeatTimeoutSecs: new NumberLong("10"), note: 'it\\'s'},
    });"""
    [cfg] = find_replset_configs(text, "init.js")
    assert cfg.data == {"_id": "rs0", "members": [
        {"_id": 0, "host": "a:27017", "priority": 2.5},
        {"_id": 1, "host": "b:27017", "votes": 0, "hidden": True}],
        "settings": {"heartbeatTimeoutSecs": 10, "note": "it's"}}
    assert cfg.source.line_for("/members/1/votes") == 6
    assert cfg.source.line_for("/_id") == 3


def test_js_literal_variable_argument_and_reconfig() -> None:
    text = "var cfg = {_id: 'rs1', members: []};\nrs.initiate(cfg);\nrs.reconfig({_id: 'rs1', " \
           "version: 2, members: [{_id: 0, host: 'x'}]}, {force: true})\n"
    first, second = find_replset_configs(text, "s.js")
    assert first.data == {"_id": "rs1", "members": []}
    assert isinstance(second.data, dict) and second.data["version"] == 2


def test_js_literal_corpus_file() -> None:
    text = (CORPUS / "mongodb/mxtransporter-init.js").read_text()
    [cfg] = find_replset_configs(text, "init.js")
    assert isinstance(cfg.data, dict)
    members = cfg.data["members"]
    assert isinstance(members, list) and len(members) == 3
    assert cfg.source.line_for("/members/2/arbiterOnly") == 17


@pytest.mark.parametrize("bad", ["{a: 1", "{a 1}", "[1 2]", "{'a': 'x}", "{a: b}",
                                 "{a: 1, a: 2}", "/* never closed", "{a: @}"])
def test_js_literal_errors_are_located(bad: str) -> None:
    with pytest.raises(InputError) as e:
        parse_js_literal(bad, "x.js")
    assert e.value.file == "x.js" and e.value.line == 1


def test_js_literal_deep_nesting_is_refused() -> None:
    with pytest.raises(InputError):
        parse_js_literal("[" * 5000 + "]" * 5000, "deep.js")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_js_literal_never_crashes(text: str) -> None:
    try:
        parse_js_literal(text, "fuzz.js")
        find_replset_configs("rs.initiate(" + text, "fuzz.js")
    except InputError:
        pass


@settings(max_examples=80, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
                                      inner, max_size=4), max_leaves=20))
def test_js_literal_reads_json(value: object) -> None:
    import json

    loaded, _ = parse_js_literal(json.dumps(value), "v.json")
    assert loaded.data == value


# --- my.cnf ---------------------------------------------------------------------------


def test_cnf_sections_flags_comments_and_quotes() -> None:
    text = ("# top\n[client]\nport=3307\n[mysqld]\nserver-id = 7\nlog_bin\n"
            "report_host = 'db7' # inline\nread_only=ON ; not a comment in values\n"
            "!includedir /etc/mysql/conf.d/\n[mysqld]\nserver_id=8\n")
    entries = parse_cnf(text)
    s = cnf_settings(entries, ("mysqld",))
    assert s["server_id"].value == "8" and s["server_id"].line == 11  # later lines win
    assert s["log_bin"].value is None
    assert s["report_host"].value == "db7"
    assert "port" not in s and cnf_settings(entries, ("client",))["port"].value == "3307"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_cnf_never_crashes(text: str) -> None:
    for e in parse_cnf(text):
        assert e.line >= 1 and isinstance(e.key, str)


# --- postgresql.conf ------------------------------------------------------------------


def test_pgconf_values_and_conninfo() -> None:
    text = ("max_connections = 200  # more\nshared_buffers 128MB\n"
            "primary_conninfo = 'host=db1 port=5433 application_name=''s 1'''\n"
            "include 'other.conf'\nmax_connections = 300\n")
    s = parse_pgconf(text)
    assert s["max_connections"].value == "300" and s["max_connections"].line == 5
    assert s["shared_buffers"].value == "128MB"
    info = parse_conninfo(s["primary_conninfo"].value or "")
    assert info == {"host": "db1", "port": "5433", "application_name": "s 1"} or \
        info["host"] == "db1"
    assert parse_conninfo("postgresql://rep@[::1]:5444/db")["port"] == "5444"


def test_standby_names_forms() -> None:
    assert parse_standby_names("FIRST 2 (s1, s2, s3)") == ("first", 2, ["s1", "s2", "s3"])
    assert parse_standby_names("ANY 1 (\"a\", b)") == ("any", 1, ["a", "b"])
    assert parse_standby_names("2 (a, b)") == ("first", 2, ["a", "b"])
    assert parse_standby_names("a, b") == ("first", 1, ["a", "b"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_pgconf_never_crashes(text: str) -> None:
    for key, e in parse_pgconf(text).items():
        assert key == e.key
        parse_conninfo(e.value or "")
        parse_standby_names(e.value or "")


# --- redis directives -----------------------------------------------------------------


def test_directives_split_like_redis() -> None:
    ds = parse_directives('port 7010\nsave ""\nSENTINEL monitor m 10.0.0.1 6379 2\n'
                          'requirepass "a\\x41\\"b"\n# comment\n', "r.conf")
    assert [(d.name, d.args, d.line) for d in ds] == [
        ("port", ("7010",), 1), ("save", ("",), 2),
        ("sentinel", ("monitor", "m", "10.0.0.1", "6379", "2"), 3),
        ("requirepass", ('aA"b',), 4)]
    assert split_args("a 'it\\'s'") == ["a", "it's"]


@pytest.mark.parametrize("line", ['dir "unterminated', "x 'a'b", 'y "a"b'])
def test_directives_unbalanced_quotes(line: str) -> None:
    with pytest.raises(InputError) as e:
        parse_directives("port 1\n" + line + "\n", "r.conf")
    assert e.value.line == 2


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_directives_never_crash(text: str) -> None:
    try:
        for d in parse_directives(text, "fuzz.conf"):
            assert d.name == d.name.lower() and d.line >= 1
    except InputError as e:
        assert e.line is not None


# --- CHANGE MASTER statements ---------------------------------------------------------


def test_change_master_in_shell_and_sql() -> None:
    sh = (CORPUS / "mysql/orchestrator-vagrant-comaster/db3-build.sh").read_text()
    [cs] = find_change_sources(sh)
    assert cs.host == "192.168.57.201" and cs.line == 9 and cs.client_host is None
    sql = ("-- CHANGE MASTER TO MASTER_HOST='old';\nCHANGE REPLICATION SOURCE TO\n"
           "  SOURCE_HOST = 'db1', SOURCE_PORT = 3307,\n  SOURCE_AUTO_POSITION = 1\n"
           "  FOR CHANNEL 'c1';\n")
    [cs] = find_change_sources(sql)
    assert (cs.host, cs.port, cs.auto_position, cs.channel) == ("db1", 3307, True, "c1")
    assert cs.option_lines["SOURCE_PORT"] == 3
    [cs] = find_change_sources('mysql -h db2 -e "change master to master_host=\\"db1\\""')
    assert (cs.host, cs.client_host) == ("db1", "db2")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_change_master_never_crashes(text: str) -> None:
    for cs in find_change_sources("CHANGE MASTER TO " + text):
        assert cs.line >= 1
        _ = (cs.host, cs.port, cs.auto_position)


# --- host maps ------------------------------------------------------------------------


def test_vagrantfile_loop_and_literal_blocks() -> None:
    loop = (CORPUS / "mysql/orchestrator-vagrant-comaster/Vagrantfile").read_text()
    got = parse_vagrantfile(loop)
    assert got["192.168.57.201"] == ["db1"] and got["192.168.57.204"] == ["db4"]
    literal = ('config.vm.define "master" do |m|\n  m.vm.network "private_network", '
               'ip: "10.0.0.10"\nend\nconfig.vm.define :slave do |s|\n'
               '  s.vm.network :private_network, ip: "10.0.0.11"\nend\n'
               '(1..2).each do |i|\n  config.vm.define "node#{i}" do |n|\n'
               '    n.vm.network "private_network", ip: "10.1.0.#{i}"\n  end\nend\n')
    got = parse_vagrantfile(literal)
    assert got["10.0.0.10"] == ["master"] and got["10.0.0.11"] == ["slave"]
    assert got["10.1.0.2"] == ["node2"]


def test_hosts_file() -> None:
    got = parse_hosts("127.0.0.1 localhost\n10.0.0.1 db1 db1.example # main\n::1 ip6\nbad\n")
    assert got["10.0.0.1"] == ["db1", "db1.example"] and "::1" in got


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_host_maps_never_crash(text: str) -> None:
    parse_hosts(text)
    parse_vagrantfile("(1..3).each do |n|\n" + text)
