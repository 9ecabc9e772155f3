"""The text layouts ``auto`` recognises: each found without a format, each field in its place."""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from aiops.cli import main
from ingest.errors import ErrorPolicy, ParseError
from ingest.files import InputSpec, read_input
from ingest.logs import LogReader, describe_parser
from tests.conftest import shared

UTC = timezone.utc


def detect(lines, **kw):
    """Records of ``lines`` read with ``auto``, the layout it chose, and what it rejected."""
    policy = ErrorPolicy()
    reader = LogReader(None, policy=policy, **kw)
    records = list(reader.read(lines))
    return records, describe_parser(reader.parser), policy


def test_kafka_and_laravel_bracketed_stamps_with_their_levels():
    records, layout, policy = detect([
        "[2026-03-02 10:00:00,123] INFO [KafkaServer id=0] started (kafka.server.KafkaServer)\n",
        "[2026-03-02 10:00:01,456] ERROR [ReplicaFetcher replicaId=0, leaderId=1] Error for "
        "partition orders-0 (kafka.server.ReplicaFetcherThread)\n",
        "[2026-03-02 10:00:02] production.ERROR: SQLSTATE[HY000] [2002] Connection refused\n",
        "[2026-03-02T10:00:03.250Z] WARN  slow request /api/cart 2300ms\n",
        "[2026-03-02 10:00:04,000] Leader election finished\n",
    ])
    assert layout == "auto:bracketed" and policy.count == 0
    assert [r.ts for r in records] == [
        datetime(2026, 3, 2, 10, 0, 0, 123000, UTC), datetime(2026, 3, 2, 10, 0, 1, 456000, UTC),
        datetime(2026, 3, 2, 10, 0, 2, tzinfo=UTC), datetime(2026, 3, 2, 10, 0, 3, 250000, UTC),
        datetime(2026, 3, 2, 10, 0, 4, tzinfo=UTC)]
    assert [r.level for r in records] == ["INFO", "ERROR", "ERROR", "WARN", ""]
    assert [r.message for r in records] == [
        "[KafkaServer id=0] started (kafka.server.KafkaServer)",
        "[ReplicaFetcher replicaId=0, leaderId=1] Error for partition orders-0 "
        "(kafka.server.ReplicaFetcherThread)",
        "SQLSTATE[HY000] [2002] Connection refused", "slow request /api/cart 2300ms",
        "Leader election finished"]


def test_proxifier_from_loghub_is_found_without_a_format():
    path = shared("loghub_2k", "Proxifier", "Proxifier_2k.log")
    with open(path.with_name("Proxifier_2k.log_structured.csv"), newline="") as fh:
        truth = list(csv.DictReader(fh))
    with open(path) as fh:
        records, layout, policy = detect(fh, year=2017)
    assert layout == "auto:bracketed" and policy.count == 0 and len(records) == len(truth)
    for record, row in zip(records, truth):
        month_day, clock = row["Time"].split()
        month, day = month_day.split(".")
        assert record.ts.strftime("%m %d %H:%M:%S") == f"{month} {day} {clock}"
        assert record.message == f"{row['Program']} - {row['Content']}"


def test_kubernetes_klog_lines_take_their_level_letter_and_the_given_year():
    records, layout, policy = detect([
        "I0302 10:00:00.123456    1234 controller.go:123] Starting controller\n",
        "W0302 10:00:00.500000    1234 reflector.go:324] watch of *v1.Pod ended\n",
        "E0302 10:00:01.000001    1234 reflector.go:138] Failed to watch *v1.Pod: "
        "connection refused\n",
        "F0302 10:00:02.000000       1 server.go:99] cannot bind :6443\n",
    ], year=2026)
    assert layout == "auto:klog" and policy.count == 0
    assert [r.level for r in records] == ["INFO", "WARN", "ERROR", "FATAL"]
    assert records[2].ts == datetime(2026, 3, 2, 10, 0, 1, 1, UTC)
    assert records[2].message == "Failed to watch *v1.Pod: connection refused"
    assert records[2].attributes["Caller"] == "reflector.go:138"


def test_ruby_logger_lines():
    records, layout, _ = detect([
        'I, [2026-03-02T10:00:00.123456 #1234]  INFO -- : Started GET "/" for 127.0.0.1\n',
        "E, [2026-03-02T10:00:01.654321 #1234] ERROR -- sidekiq: PG::ConnectionBad: could not "
        "connect\n",
    ])
    assert layout == "auto:ruby"
    assert [(r.level, r.message) for r in records] == [
        ("INFO", 'Started GET "/" for 127.0.0.1'),
        ("ERROR", "PG::ConnectionBad: could not connect")]
    assert records[1].attributes["Progname"] == "sidekiq"


ACCESS_LINES = [
    # combined (nginx's and Apache's default), common, and nginx with a request time after it
    '10.0.0.7 - - [02/Mar/2026:10:00:00 +0000] "GET /api/v1/orders/17 HTTP/1.1" 200 512 '
    '"https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"\n',
    '10.0.0.8 - bob [02/Mar/2026:11:00:01 +0100] "POST /api/v1/orders HTTP/1.1" 503 17\n',
    '10.0.0.9 - - [02/Mar/2026:10:00:02 +0000] "GET /missing HTTP/1.1" 404 - "-" "curl/8.5.0" '
    '0.003\n',
    '10.0.0.9 - - [02/Mar/2026:10:00:03 +0000] "\\x16\\x03\\x01" 400 166 "-" "-"\n',
]


def test_access_logs_take_their_level_from_the_status():
    records, layout, policy = detect(ACCESS_LINES)
    assert layout == "auto:access" and policy.count == 0
    assert [r.level for r in records] == ["INFO", "ERROR", "WARN", "WARN"]
    assert [r.ts for r in records] == [datetime(2026, 3, 2, 10, 0, s, tzinfo=UTC)
                                       for s in range(4)]
    # the message is the request, status and size: browsers do not split templates
    assert [r.message for r in records] == [
        '"GET /api/v1/orders/17 HTTP/1.1" 200 512', '"POST /api/v1/orders HTTP/1.1" 503 17',
        '"GET /missing HTTP/1.1" 404 -', '"\\x16\\x03\\x01" 400 166']
    first, second = records[0].attributes, records[1].attributes
    assert (first["Client"], first["UserAgent"], first["Status"]) == (
        "10.0.0.7", '"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"', "200")
    assert (second["User"], "Referer" in second) == ("bob", False)
    assert records[2].attributes["Extra"] == "0.003"
    assert records[0].host == ""  # the client is not the machine that wrote the log


def test_a_level_word_counts_only_as_a_whole_word():
    records, layout, _ = detect([
        "2026-03-02 10:00:00 Errors found on /dev/sdb\n",
        "2026-03-02 10:00:01 Information schema refreshed\n",
        "2026-03-02 10:00:02 ERROR: disk full\n",
        "2026-03-02 10:00:03 [WARN] retrying\n",
    ])
    assert layout == "auto:timestamped"
    assert [(r.level, r.message) for r in records] == [
        ("", "Errors found on /dev/sdb"), ("", "Information schema refreshed"),
        ("ERROR", "disk full"), ("WARN", "retrying")]


def test_a_replay_summary_names_the_layout_it_found(tmp_path):
    path = tmp_path / "access.log"
    path.write_text("".join(ACCESS_LINES))
    spec = InputSpec(path=path)
    records = list(read_input(spec, policy=ErrorPolicy()))
    assert len(records) == 4 and spec.format == "auto:access"


@pytest.mark.parametrize("line", [
    "[not a stamp] hello\n",
    "X0302 10:00:00.123456    1234 controller.go:123] not a klog level\n",
    '10.0.0.7 - - [02/Mar/2026:10:00:00 +0000] GET / 200 512\n',  # the request unquoted
])
def test_near_misses_are_not_taken_for_a_layout(line):
    policy = ErrorPolicy()
    with pytest.raises(ParseError, match="recognisable log layout"):
        list(LogReader(None, policy=policy).read([line]))



def test_a_burst_of_5xx_in_an_access_log_is_an_error_burst(tmp_path, capsys):
    """Four hours of an access log, 0.5 % 500s, then 40 % for 15 minutes from 10:00."""
    rng = random.Random(7)
    t = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    lines = []
    while t < datetime(2026, 3, 2, 12, 0, tzinfo=UTC):
        t += timedelta(seconds=rng.expovariate(1.0))
        bad = datetime(2026, 3, 2, 10, 0, tzinfo=UTC) <= t < datetime(2026, 3, 2, 10, 15,
                                                                       tzinfo=UTC)
        status = 500 if rng.random() < (0.4 if bad else 0.005) else 200
        lines.append(f'10.0.0.{rng.randint(1, 250)} - - [{t:%d/%b/%Y:%H:%M:%S +0000}] '
                     f'"GET /api/v1/orders/{rng.randint(1, 5000)} HTTP/1.1" {status} '
                     f'{rng.randint(100, 9000)} "-" "curl/8.5.0"\n')
    (tmp_path / "access.log").write_text("".join(lines))
    assert main(["replay", str(tmp_path / "access.log"), "--service", "web", "--store",
                 str(tmp_path / "s.db"), "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["inputs"][0]["format"] == "auto:access"
    with sqlite3.connect(tmp_path / "s.db") as db:
        bursts = db.execute("SELECT starts_at, ends_at FROM alerts WHERE name = "
                            "'LogErrorBurst' AND service = 'web'").fetchall()
    assert len(bursts) == 1
    starts, ends = bursts[0]
    assert "2026-03-02T10:00:00Z" <= starts <= "2026-03-02T10:03:00Z"
    assert "2026-03-02T10:14:00Z" <= ends <= "2026-03-02T10:20:00Z"


def test_postgres_lines_take_their_level_and_their_zone():
    records, layout, policy = detect([
        "2026-03-02 10:00:00.123 UTC [1234] LOG:  database system is ready to accept "
        "connections\n",
        '2026-03-02 10:00:01.456 UTC [1240] app@shop ERROR:  duplicate key value violates '
        'unique constraint "orders_pkey"\n',
        "2026-03-02 10:00:01.456 UTC [1240] app@shop DETAIL:  Key (id)=(42) already exists.\n",
        "2026-03-02 12:00:02.000 +02 [1250] FATAL:  remaining connection slots are reserved\n",
        "2026-03-02 10:00:03 UTC [1251] WARNING:  there is no transaction in progress\n",
    ])
    assert layout == "auto:postgres" and policy.count == 0
    assert [r.level for r in records] == ["INFO", "ERROR", "", "FATAL", "WARN"]
    assert records[2].message == "DETAIL:  Key (id)=(42) already exists."
    assert records[3].ts == datetime(2026, 3, 2, 10, 0, 2, tzinfo=UTC)  # +02 is its zone
    assert (records[1].attributes["User"], records[1].attributes["Database"]) == ("app", "shop")


def test_mysql_error_log_lines_are_not_syslog_with_host_0():
    records, layout, policy = detect([
        "2026-03-02T10:00:00.123456Z 0 [Warning] [MY-010068] [Server] CA certificate ca.pem "
        "is self signed.\n",
        "2026-03-02T10:00:01.000000Z 12 [ERROR] [MY-013183] [InnoDB] Assertion failure: "
        "ibuf0ibuf.cc:3833\n",
        "2026-03-02T10:00:02.000000Z 0 [Note] Event Scheduler: Loaded 0 events\n",  # 5.7
    ])
    assert layout == "auto:mysql" and policy.count == 0
    assert [(r.level, r.host, r.message) for r in records] == [
        ("WARN", "", "CA certificate ca.pem is self signed."),
        ("ERROR", "", "Assertion failure: ibuf0ibuf.cc:3833"),
        ("NOTICE", "", "Event Scheduler: Loaded 0 events")]
    assert records[1].attributes["Subsystem"] == "InnoDB"


def test_redis_lines_take_their_level_from_the_symbol():
    records, layout, _ = detect([
        "1:C 02 Mar 2026 10:00:00.123 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n",
        "1:M 02 Mar 2026 10:00:00.125 * Ready to accept connections tcp\n",
        "1:M 02 Mar 2026 10:00:05.000 - Accepted 10.0.0.5:51234\n",
    ])
    assert layout == "auto:redis"
    assert [r.level for r in records] == ["WARN", "NOTICE", "DEBUG"]
    assert records[1].ts == datetime(2026, 3, 2, 10, 0, 0, 125000, UTC)


@pytest.mark.parametrize("system", ["HDFS", "Spark", "Zookeeper", "Apache"])
def test_loghub_levels_are_found_without_a_format(system):
    """Every line's level as loghub's ground truth has it, with ``auto`` alone (HDFS puts a
    process id between the stamp and the level)."""
    from aiops.schema import normalize_level

    path = shared("loghub_2k", system, f"{system}_2k.log")
    with open(path.with_name(f"{system}_2k.log_structured.csv"), newline="") as fh:
        truth = list(csv.DictReader(fh))
    with open(path) as fh:
        records, layout, policy = detect(fh)
    assert layout == "auto:timestamped" and policy.count == 0 and len(records) == len(truth)
    assert [r.level for r in records] == [normalize_level(row["Level"]) for row in truth]
    if system == "HDFS":
        assert [r.attributes["Pid"] for r in records] == [row["Pid"] for row in truth]
        assert [r.message for r in records] == [f"{row['Component']}: {row['Content']}"
                                                for row in truth]
