"""Log readers: syslog, JSON lines, regexes, multi-line records, gzip, strict vs lenient."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

import pytest

from ingest.errors import ErrorPolicy, ParseError
from ingest.files import InputSpec, open_text, read_input
from ingest.logs import LogReader

UTC = timezone.utc


def read(lines, fmt=None, **kw):
    policy = kw.pop("policy", ErrorPolicy())
    return list(LogReader(fmt, policy=policy, **kw).read(lines)), policy


def test_rfc3164_with_and_without_pri():
    recs, _ = read(["<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick",
                    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure"],
                   "syslog", year=2026)
    a, b = recs
    assert (a.host, a.service, a.level, a.message) == (
        "mymachine", "su", "CRITICAL", "'su root' failed for lonvick")
    assert a.attributes == {"facility": "auth", "severity": 2, "pid": "123", "tag": "su"}
    assert a.ts == datetime(2026, 10, 11, 22, 14, 15, tzinfo=UTC)
    assert (b.host, b.service, b.level, b.attributes["pid"]) == ("combo", "sshd(pam_unix)", "",
                                                                "19939")


def test_rfc5424_with_structured_data():
    line = ('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
            '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] '
            '\ufeffAn application event log entry')
    (r,), _ = read([line], "syslog")
    assert r.service == "evntslog" and r.host == "mymachine.example.com"
    assert r.level == "NOTICE"
    assert r.message == "An application event log entry"
    assert r.attributes["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}}
    assert r.attributes["msgid"] == "ID47"
    assert r.ts == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)


def test_json_lines_with_usual_field_names_keep_unknown_fields():
    lines = [
        '{"ts":"2026-11-28T17:00:01Z","level":"error","service":"checkout","msg":"db timeout",'
        '"trace_id":"abc1"}',
        '{"@timestamp":"2026-11-28T17:00:02Z","log.level":"warning","service":{"name":"pay"},'
        '"message":"slow"}',
        '{"time":1795888459585,"severity":"INFO","app":"api","log":"started\\n"}',
        '{"timestamp":"2026-11-28T17:00:03Z","level":50,"name":"bunyan-app","msg":"boom"}',
    ]
    recs, _ = read(lines, "json")
    assert [(r.service, r.level, r.message) for r in recs] == [
        ("checkout", "ERROR", "db timeout"), ("pay", "WARN", "slow"), ("api", "INFO", "started"),
        ("bunyan-app", "ERROR", "boom")]
    assert recs[0].attributes == {"trace_id": "abc1"}


def test_syslog_ng_raw_only_items_are_parsed_from_raw():
    lines = ['{"_received":"2026-11-28T17:52:41+00:00","_raw":"plain text line not json",'
             '"_host":"vm"}']
    recs, _ = read(lines, "json")
    assert recs[0].message == "plain text line not json"
    assert recs[0].ts == datetime(2026, 11, 28, 17, 52, 41, tzinfo=UTC)


def test_named_group_regex():
    fmt = r"(?P<Timestamp>\S+ \S+) \[(?P<Level>\w+)\] (?P<Service>[\w-]+): (?P<Content>.*)"
    (r,), _ = read(["2026-11-28 10:00:00 [WARN] api-gw: upstream slow 250ms"], fmt)
    assert (r.service, r.level, r.message) == ("api-gw", "WARN", "upstream slow 250ms")


def test_header_format_record_has_every_field_in_its_place():
    from aiops.schema import LogRecord

    line = "2026-03-02 10:00:00.458 WARN web-1 checkout.db: pool at 95%\n"
    (r,), _ = read([line], "<Date> <Time> <Level> <Host> <Component>: <Content>",
                   source="app.log", service="fallback")
    assert r == LogRecord(
        ts=datetime(2026, 3, 2, 10, 0, 0, 458000, tzinfo=timezone.utc), message="pool at 95%",
        service="fallback", host="web-1", level="WARN",
        attributes={"Date": "2026-03-02", "Time": "10:00:00.458", "Level": "WARN",
                    "Host": "web-1", "Component": "checkout.db"},
        raw=line.rstrip("\n"), source="app.log", line=1)


def test_literal_header_format_needs_no_escaping():
    (r,), _ = read(["[2026-11-28 10:00:00] ERROR|checkout|payment failed (code=7)"],
                   "[<Timestamp>] <Level>|<Service>|<Content>")
    assert (r.service, r.level, r.message) == ("checkout", "ERROR", "payment failed (code=7)")


@pytest.mark.parametrize("fmt", [None, "<Date> <Time> <Level> <Content>"])
def test_terminal_colours_are_removed_before_a_text_line_is_parsed(fmt):
    """``kubectl logs`` of an app that colours its output: levels, fields and messages (so
    templates) are those of the plain text; auto-detection sees the plain text too."""
    plain = ["2026-11-28 17:00:00 INFO request 1 done in 5 ms",
             "2026-11-28 17:00:01 ERROR request 2 failed: timeout",
             "2026-11-28 17:00:02 WARN slow request 3"]
    coloured = ["\x1b[32m2026-11-28 17:00:00\x1b[0m \x1b[1;32mINFO\x1b[0m request 1 done in 5 ms",
                "2026-11-28 17:00:01 \x1b[31mERROR\x1b[39;49m request 2 failed: \x1b[1mtimeout\x1b[m",
                "2026-11-28 17:00:02 \x1b[33mWARN\x1b[0m slow request 3\x1b[K"]
    want, _ = read(plain, fmt)
    got, policy = read(coloured, fmt)
    assert policy.count == 0
    assert [(r.ts, r.level, r.message, r.raw) for r in got] == \
        [(r.ts, r.level, r.message, r.raw) for r in want]
    assert [r.level for r in got] == ["INFO", "ERROR", "WARN"]


def test_stack_traces_join_the_record_they_continue():
    lines = [
        "2026-11-28 10:00:00 ERROR checkout: unhandled exception",
        "java.lang.IllegalStateException: pool exhausted",
        "    at com.shop.Db.get(Db.java:42)",
        "    at com.shop.Checkout.run(Checkout.java:7)",
        "Caused by: java.net.SocketTimeoutException: timeout",
        "\t... 12 more",
        "2026-11-28 10:00:01 INFO checkout: recovered",
    ]
    recs, policy = read(lines, "<Date> <Time> <Level> <Component>: <Content>")
    assert len(recs) == 2 and policy.count == 0
    assert recs[0].message.splitlines()[0] == "unhandled exception"
    assert len(recs[0].message.splitlines()) == 6
    assert recs[0].line == 1 and recs[1].line == 7


def test_python_traceback_joins_json_free_records():
    lines = [
        "2026-11-28T10:00:00Z ERROR worker crashed",
        "Traceback (most recent call last):",
        '  File "app.py", line 3, in <module>',
        "ValueError: bad",
        "2026-11-28T10:00:02Z INFO worker restarted",
    ]
    recs, policy = read(lines)
    assert len(recs) == 2 and policy.count == 0
    assert recs[0].message.endswith("ValueError: bad")


def test_gzip_and_plain_files_read_the_same(tmp_path):
    lines = [f"2026-11-28T10:00:{i:02d}Z INFO svc: line {i}\n" for i in range(30)]
    plain = tmp_path / "a.log"
    plain.write_text("".join(lines))
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a = list(read_input(InputSpec(path=plain, kind="log"), ErrorPolicy()))
    b = list(read_input(InputSpec(path=packed, kind="log"), ErrorPolicy()))
    assert [r.message for r in a] == [r.message for r in b] and len(a) == 30


def test_a_truncated_gzip_keeps_its_records_before_the_damage_and_says_so(tmp_path):
    """A log rotated while it was being compressed: the lines before the cut are read, the
    cut is one reported error (the other inputs go on), and --strict stops on it."""
    from tests.conftest import SAMPLES

    log = SAMPLES / "db-pool-exhaustion" / "logs" / "postgres.log"
    packed = gzip.compress(log.read_bytes())
    cut = tmp_path / "postgres.log.gz"
    cut.write_bytes(packed[:len(packed) // 2])
    policy = ErrorPolicy(strict=False)
    got = list(read_input(InputSpec(path=cut, kind="log"), policy))
    want = list(read_input(InputSpec(path=log, kind="log"), ErrorPolicy()))
    assert 100 < len(got) < len(want)
    assert [r.message for r in got] == [r.message for r in want[:len(got)]]
    (error,) = policy.first
    assert policy.count == 1 and error.field == "file" and error.source == str(cut)
    assert "a complete gzip file" in str(error) and "before the damage were read" in str(error)
    with pytest.raises(ParseError, match="a complete gzip file"):
        list(read_input(InputSpec(path=cut, kind="log"), ErrorPolicy(strict=True)))
    garbage = tmp_path / "garbage.log.gz"  # gzip magic, then nothing gzip can read
    garbage.write_bytes(b"\x1f\x8b\x08\x00" + b"not deflate data" * 8)
    with pytest.raises(ParseError, match="a readable gzip file"):
        list(read_input(InputSpec(path=garbage), ErrorPolicy()))  # sniffing reads it first


def test_a_binary_file_is_named_as_such_not_echoed_back(tmp_path, capsys):
    """An image or archive among the logs (or a UTF-16 export) was a layout error whose "got"
    was the file's first bytes, control characters and all, printed to the terminal."""
    import random

    from aiops.cli import main

    blob = tmp_path / "screenshot.png"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(3000))
    noisy = tmp_path / "core.bin"  # no NUL byte, but control characters throughout
    noisy.write_bytes(bytes(b for b in random.Random(8).randbytes(4000) if b))
    utf16 = tmp_path / "events.log"
    utf16.write_bytes("2026-11-28 10:00:00 ERROR disk full\r\n".encode("utf-16"))
    for path, reason in ((blob, "NUL bytes"), (noisy, "control characters"),
                         (utf16, "iconv -f UTF-16 -t UTF-8")):
        with pytest.raises(ParseError) as sniffed:  # kind unknown: sniffed first
            list(read_input(InputSpec(path=path), ErrorPolicy()))
        assert sniffed.value.field == "file" and "a text file" in str(sniffed.value)
        with pytest.raises(ParseError) as read_as_log:  # declared a log: the layout check
            list(read_input(InputSpec(path=path, kind="log"), ErrorPolicy()))
        assert read_as_log.value.field == "log_format"
        for err in (sniffed.value, read_as_log.value):
            assert reason in str(err) and "binary data" in str(err)
            assert not any(ch < " " for ch in str(err)), str(err)
    assert main(["replay", str(blob), "--no-progress", "--store", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert "expected a text file" in err and not any(ch < " " and ch != "\n" for ch in err)
    # a log in a legacy encoding is not binary: its bytes become U+FFFD, its lines are read
    legacy = tmp_path / "cp1251.log"
    legacy.write_bytes("2026-11-28 10:00:00 ERROR Ошибка записи на диск\n".encode("cp1251"))
    (record,) = read_input(InputSpec(path=legacy), ErrorPolicy())
    assert record.level == "ERROR" and "\ufffd" in record.message


def test_an_empty_or_blank_log_has_no_records_and_fails_nothing(tmp_path, capsys):
    """A log just rotated is empty: its layout cannot be recognised, and that error failed
    the replay of its whole directory."""
    from aiops.cli import main
    from tests.conftest import SAMPLES

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("")
    (logs / "worker.log").write_text("\n\n  \n")
    (logs / "redis.log").write_bytes((SAMPLES / "db-pool-exhaustion" / "logs" /
                                      "redis.log").read_bytes())
    for name in ("app.log", "worker.log"):
        policy = ErrorPolicy(strict=True)
        assert list(read_input(InputSpec(path=logs / name, kind="log"), policy)) == []
    assert main(["replay", str(logs), "--no-progress", "--store", str(tmp_path / "s.db")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(i["path"].rsplit("/", 1)[1], i["records"]) for i in summary["inputs"]] == \
        [("app.log", 0), ("redis.log", 974), ("worker.log", 0)]
    assert summary["rejected"]["count"] == 0
    with pytest.raises(ParseError, match="recognisable log layout"):  # text, but no layout
        list(read_input(InputSpec(path=_write(tmp_path / "odd.log", "no time here\n"),
                                  kind="log"), ErrorPolicy()))


def _write(path, text):
    path.write_text(text)
    return path


def test_a_byte_order_mark_does_not_cost_the_first_line(tmp_path):
    for name, lines in (("a.log", ["2026-11-28 10:00:00 INFO first", "2026-11-28 10:00:01 INFO second"]),
                        ("a.jsonl", ['{"ts":"2026-11-28T10:00:00Z","msg":"first"}',
                                     '{"ts":"2026-11-28T10:00:01Z","msg":"second"}'])):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())  # written on Windows
        policy = ErrorPolicy()
        got = list(read_input(InputSpec(path=path, kind="log"), policy))
        assert [r.message for r in got] == ["first", "second"] and policy.count == 0


def test_logs_exported_as_one_json_array_are_read_item_by_item(tmp_path):
    """Elasticsearch / CloudWatch / Loki exports: one array, not one object per line; a text
    log whose lines start with a bracketed time is not taken for one."""
    import orjson

    items = [{"@timestamp": "2026-11-28T10:00:00Z", "message": "GET /a 200", "level": "info",
              "service": "api", "trace_id": "t1"},
             {"@timestamp": "not a time", "message": "broken"},
             {"@timestamp": "2026-11-28T10:00:02Z", "message": "GET /b 500", "level": "error",
              "service": "api"}]
    path = tmp_path / "export.json"
    path.write_bytes(orjson.dumps(items, option=orjson.OPT_INDENT_2))
    policy = ErrorPolicy(strict=False)
    got = list(read_input(InputSpec(path=path, kind="log"), policy))
    assert [(r.service, r.level, r.message) for r in got] == \
        [("api", "INFO", "GET /a 200"), ("api", "ERROR", "GET /b 500")]
    assert got[0].attributes == {"trace_id": "t1"}
    assert policy.count == 1 and "[1]" in str(policy.first[0])
    bracketed = tmp_path / "bracketed.log"
    bracketed.write_text("[2026-11-28 10:00:00] ERROR|checkout|payment failed\n")
    (r,) = list(read_input(InputSpec(path=bracketed, kind="log",
                                     format="[<Timestamp>] <Level>|<Service>|<Content>"),
                           ErrorPolicy()))
    assert (r.service, r.message) == ("checkout", "payment failed")


def test_fluent_bit_kubernetes_records_name_their_container_and_node():
    """Fluent Bit's (and Vector's) Kubernetes filter nests the pod's metadata: the container
    is the service, the node the host, and the metadata stays in the attributes."""
    k8s = {"namespace_name": "shop", "pod_name": "checkout-7d9f", "container_name": "checkout",
           "host": "node-3", "labels": {"app": "checkout"}}
    lines = [f'{{"date":1764400000.{i}5,"log":"GET /cart {200 + i}\\n","stream":"stdout",'
             f'"kubernetes":{json.dumps(k8s)}}}' for i in range(3)]
    lines.append('{"date":1764400001.5,"log":"ok","app":"payments","kubernetes":'
                 + json.dumps(k8s) + "}")  # an explicit service key still wins
    records, policy = read(lines, "json")
    assert policy.count == 0
    assert [(r.service, r.host, r.message) for r in records] == \
        [("checkout", "node-3", "GET /cart 200"), ("checkout", "node-3", "GET /cart 201"),
         ("checkout", "node-3", "GET /cart 202"), ("payments", "node-3", "ok")]
    assert records[0].attributes["kubernetes"] == k8s
    assert records[0].attributes["stream"] == "stdout"


DOCKER = [  # /var/lib/docker/containers/<id>/<id>-json.log: the app's line as "log"
    '{"log":"2026-03-02 10:00:00,123 ERROR [main] c.e.Pool - timeout after 5000 ms\\n",'
    '"stream":"stderr","time":"2026-03-02T10:00:00.123456789Z"}',
    '{"log":"{\\"level\\":\\"warn\\",\\"msg\\":\\"slow query\\",\\"ms\\":2300}\\n",'
    '"stream":"stdout","time":"2026-03-02T10:00:01Z"}',
    '{"log":"GET /healthz 200\\n","stream":"stdout","time":"2026-03-02T10:00:02Z"}',
    '{"log":"2026-03-02 10:00:03 ERROR inner","level":"info","time":"2026-03-02T10:00:03Z"}',
]


def test_docker_json_file_lines_take_the_app_s_level_and_message():
    """Docker's json-file driver (and Fluent Bit reading it) wraps the app's line as "log":
    its level is the app's, or the container's ERROR lines would make no error burst."""
    from api.fastlogs import parse_log_items
    from ingest.logs import make_line_parser
    from ingest.timestamps import TimestampParser

    records, policy = read([line + "\n" for line in DOCKER])
    assert policy.count == 0
    assert [(r.level, r.message) for r in records] == [
        ("ERROR", "[main] c.e.Pool - timeout after 5000 ms"), ("WARN", "slow query"),
        ("", "GET /healthz 200"),
        ("INFO", "2026-03-02 10:00:03 ERROR inner")]  # a level field of its own wins
    assert records[0].ts == datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)  # Docker's time
    assert (records[1].attributes["ms"], records[1].attributes["stream"]) == (2300, "stdout")
    # the same items posted to the API are the same records
    timestamps = TimestampParser()
    fallback = make_line_parser("json", source="api", timestamps=timestamps).raw_fallback
    posted = parse_log_items([json.loads(line) for line in DOCKER], source="api", service="",
                             timestamps=timestamps, policy=ErrorPolicy(), raw_fallback=fallback)
    assert [(r.level, r.message, r.ts) for r in posted] == [
        (r.level, r.message, r.ts) for r in records]


def test_a_stack_trace_docker_wrote_line_by_line_joins_its_record():
    lines = [json.dumps({"log": text + "\n", "stream": stream, "time": f"2026-03-02T10:00:0{i}Z"})
             + "\n" for i, (stream, text) in enumerate([
                 ("stderr", "2026-03-02 10:00:00,123 ERROR [main] c.e.Api - request failed"),
                 ("stderr", "java.lang.IllegalStateException: pool closed"),
                 ("stderr", "\tat com.example.Pool.get(Pool.java:42)"),
                 ("stdout", "\tat an indented line on the other stream"),
                 ("stderr", "Caused by: java.net.ConnectException: refused")])]
    records, policy = read(lines)
    assert policy.count == 0
    assert [(r.line, r.level, r.message.splitlines()) for r in records] == [
        (1, "ERROR", ["[main] c.e.Api - request failed",
                      "java.lang.IllegalStateException: pool closed",
                      "\tat com.example.Pool.get(Pool.java:42)"]),
        (4, "", ["\tat an indented line on the other stream"]),
        (5, "", ["Caused by: java.net.ConnectException: refused"])]  # stdout's came between
    apart, _ = read(lines, multiline="none")
    assert len(apart) == 5


def _journal(**fields) -> str:
    entry = {"__CURSOR": "s=1f;i=9a", "__REALTIME_TIMESTAMP": "1772445600123457",
             "__MONOTONIC_TIMESTAMP": "81234", "_BOOT_ID": "9c1e", "PRIORITY": "3",
             "_HOSTNAME": "node-1", "SYSLOG_IDENTIFIER": "kubelet", "_PID": "812",
             "_SYSTEMD_UNIT": "kubelet.service", "MESSAGE": "Failed to pull image: rpc error"}
    entry.update(fields)
    return json.dumps({k: v for k, v in entry.items() if v is not None}) + "\n"


def test_journalctl_json_entries_map_onto_records():
    """``journalctl -o json``: upper-case fields, microseconds as a string, a syslog priority."""
    lines = [_journal(), _journal(PRIORITY="6", SYSLOG_IDENTIFIER="sshd", MESSAGE="Accepted "
                                  "publickey for ops", __REALTIME_TIMESTAMP="1772445601000001"),
             _journal(SYSLOG_IDENTIFIER=None, PRIORITY=None, MESSAGE=[104, 105, 0xFF])]
    records, policy = read(lines)
    assert policy.count == 0
    assert [(r.ts, r.level, r.service, r.host, r.message) for r in records] == [
        (datetime(2026, 3, 2, 10, 0, 0, 123457, UTC), "ERROR", "kubelet", "node-1",
         "Failed to pull image: rpc error"),
        (datetime(2026, 3, 2, 10, 0, 1, 1, UTC), "INFO", "sshd", "node-1",
         "Accepted publickey for ops"),
        (datetime(2026, 3, 2, 10, 0, 0, 123457, UTC), "", "kubelet.service", "node-1",
         "hi\ufffd")]  # a message that is not UTF-8 comes as its bytes
    assert records[0].attributes["_SYSTEMD_UNIT"] == "kubelet.service"
    assert "MESSAGE" not in records[0].attributes


@pytest.mark.parametrize("field, value, expected", [
    ("__REALTIME_TIMESTAMP", "1772445600.5", "microseconds since the epoch"),
    ("PRIORITY", "9", "a syslog priority, 0 to 7"),
    ("MESSAGE", {"a": 1}, "a message string"),
])
def test_a_bad_journal_field_is_named_as_the_journal_names_it(field, value, expected):
    records, policy = read([_journal(), _journal(**{field: value})],
                           policy=ErrorPolicy(strict=False))
    assert len(records) == 1 and policy.count == 1
    assert (policy.first[0].line, policy.first[0].field) == (2, field)
    assert expected in str(policy.first[0])


def test_strict_raises_with_line_and_lenient_counts_and_keeps_good_lines():
    lines = ["2026-11-28 10:00:00 INFO a: ok", "garbage that is no record",
             "2026-11-28 10:00:01 INFO a: ok again", "2026-99-99 10:00:01 INFO a: bad date"]
    fmt = "<Date> <Time> <Level> <Component>: <Content>"
    with pytest.raises(ParseError) as info:
        read(lines, fmt)
    assert info.value.line == 2 and "garbage" in str(info.value)
    recs, policy = read(lines, fmt, policy=ErrorPolicy(strict=False))
    assert [r.message for r in recs] == ["ok", "ok again"]
    assert policy.count == 2
    assert [e.line for e in policy.first] == [2, 4]
    assert policy.first[1].field == "Date+Time"


def test_overlong_line_is_rejected_by_name():
    lines = ["2026-11-28T10:00:00Z INFO " + "x" * 2_000_000, "2026-11-28T10:00:01Z INFO fine"]
    recs, policy = read(lines, policy=ErrorPolicy(strict=False))
    assert [r.message for r in recs] == ["fine"]
    assert policy.first[0].field == "line" and policy.first[0].line == 1


def test_unrecognisable_file_in_auto_mode_names_the_problem():
    with pytest.raises(ParseError, match="log layout"):
        read(["no timestamp here", "nor here"])


def test_bad_format_string_is_reported():
    with pytest.raises(ParseError, match="log_format"):
        read(["x"], "just words")
    with pytest.raises(ParseError, match="Content"):
        read(["2026-11-28 10:00:00 x"], "<Date> <Time> <Level>")


@pytest.mark.parametrize("lines", [
    ['{"ts": "2026-03-02T10:00:00.007Z", "level": "info", "service": "shipping", '
     '"msg": "Indexed 91 users in 28ms", "trace_id": "83592ebdc43b1bee"}',
     '{"ts": "2026-03-02T10:00:01.500Z", "level": "warn", "service": "auth", "msg": "slow",'
     ' "trace_id": "a54bf100652e20a6", "user": {"id": 7}}'],
    ["2026-03-02 10:00:00.286 WARN postgres.api: shipment 6567745 payload exceeds soft limit",
     "2026-03-02 10:00:01.041 ERROR postgres.db: query failed",
     "Traceback (most recent call last):",
     '  File "db.py", line 3, in run',
     "2026-03-02 10:00:02.000 INFO postgres.main: recovered"],
    ["<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"],
])
def test_records_without_their_original_are_the_same_records_otherwise(lines):
    """What a replay reads (``keep_original=False``): the raw line and unmapped fields go, the
    rest, multi-line joins included, is what the input log would hold."""
    full = list(LogReader(source="a.log").read(line + "\n" for line in lines))
    lean = list(LogReader(source="a.log", keep_original=False).read(line + "\n" for line in lines))
    assert len(lean) == len(full) > 0
    assert any(r.raw for r in full)
    for a, b in zip(full, lean):
        assert (b.raw, dict(b.attributes)) == ("", {})
        a.raw, a.attributes = b.raw, b.attributes
        assert a == b
    with pytest.raises(TypeError):  # shared by every lean record: it cannot be changed
        lean[0].attributes["x"] = 1


def test_open_text_reads_a_byte_span_of_a_file(tmp_path):
    """What a replay fingerprinted ([0, end)) and a grown file's rest ([start, end)): a
    byte-order mark dropped at the top only, bad bytes as U+FFFD, a gzip file's content."""
    def read(*span) -> str:
        with open_text(*span) as fh:
            return fh.read()

    path = tmp_path / "app.log"
    path.write_bytes(b"\xef\xbb\xbfone\ntw\xffo\nthree\nfour\n")
    assert read(path, 0, 7) == "one\n"  # BOM (3 bytes) + "one\n"
    assert read(path, 7, 15) == "tw\ufffdo\nthr"
    assert read(path, 12) == "three\nfour\n"
    assert read(path, 12, 5) == ""  # an end before the start: nothing
    gz = tmp_path / "old.log.gz"  # a span of the decompressed content
    gz.write_bytes(gzip.compress(b"\xef\xbb\xbfone\ntwo\nthree\n"))
    assert read(gz, 0, 7) == "one\n" and read(gz, 7, 11) == "two\n"
    assert read(gz, 11) == "three\n" and read(gz) == "one\ntwo\nthree\n"
