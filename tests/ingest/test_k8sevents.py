"""Kubernetes Events read as change events, in every shape kubectl and exporters write."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from ingest.errors import ErrorPolicy
from ingest.events import read_events
from ingest.files import InputSpec, read_input, sniff

UTC = timezone.utc


def core_event(reason, kind, name, first, *, type_="Normal", message="", field_path=None,
               host="node-3", count=1, last=None, namespace="shop"):
    about = {"apiVersion": "v1", "kind": kind, "name": name, "namespace": namespace}
    if field_path:
        about["fieldPath"] = field_path
    return {"apiVersion": "v1", "kind": "Event", "count": count, "eventTime": None,
            "firstTimestamp": first, "lastTimestamp": last or first, "involvedObject": about,
            "message": message or reason, "metadata": {"name": f"{name}.17f", "namespace":
                                                        namespace},
            "reason": reason, "source": {"component": "kubelet", "host": host}, "type": type_}


EVENTS = [  # as `kubectl get events -A -o json` lists them: by name, not by time
    core_event("BackOff", "Pod", "checkout-7d9f8b5c4d-x2x9k", "2026-03-02T10:00:00Z",
               type_="Warning", field_path="spec.containers{checkout}", count=5,
               last="2026-03-02T10:04:00Z",
               message="Back-off restarting failed container checkout in pod "
                       "checkout-7d9f8b5c4d-x2x9k_shop(0b5e)"),
    core_event("ScalingReplicaSet", "Deployment", "checkout", "2026-03-02T09:58:00Z",
               message="Scaled up replica set checkout-7d9f8b5c4d to 3"),
    core_event("SuccessfulCreate", "ReplicaSet", "payments-5f6b7c8d9", "2026-03-02T09:59:00Z"),
    core_event("NodeNotReady", "Node", "node-7", "2026-03-02T10:01:00Z", type_="Warning",
               host=""),
    core_event("Killing", "Pod", "postgres-0", "2026-03-02T10:02:00Z"),
]
LIST = {"apiVersion": "v1", "items": EVENTS, "kind": "List", "metadata": {"resourceVersion": ""}}


def test_a_kubectl_list_becomes_change_events_in_time_order(tmp_path):
    path = tmp_path / "events.json"
    path.write_text(json.dumps(LIST, indent=4))
    assert sniff(path) == ("event", "json")
    events = list(read_input(InputSpec(path=path), policy=ErrorPolicy()))
    assert [(e.ts.strftime("%H:%M"), e.type, e.service, e.host) for e in events] == [
        ("09:58", "scale", "checkout", "node-3"),
        ("09:59", "successfulcreate", "payments", "node-3"),  # kept, counts as no change
        ("10:00", "restart", "checkout", "node-3"),  # the container named by fieldPath
        ("10:01", "nodenotready", "", "node-7"),     # a node is a host, not a service
        ("10:02", "restart", "postgres-0", "node-3")]
    backoff = events[2]
    assert backoff.message.startswith("Back-off restarting failed container checkout")
    assert backoff.attributes == {
        "reason": "BackOff", "namespace": "shop", "object": "Pod/checkout-7d9f8b5c4d-x2x9k",
        "k8s_type": "Warning", "count": 5, "last_seen": "2026-03-02T10:04:00Z"}


def test_a_list_too_large_to_parse_from_its_head_is_still_sniffed(tmp_path):
    many = dict(LIST, items=EVENTS * 300)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(many, indent=2))
    assert path.stat().st_size > 65536 and sniff(path) == ("event", "json")
    assert len(list(read_input(InputSpec(path=path), policy=ErrorPolicy()))) == 1500


def test_events_k8s_io_v1_watch_output_and_exporter_lines():
    new_api = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "reason": "Killing",
               "eventTime": "2026-03-02T10:00:00.123456Z", "note": "Stopping container api",
               "regarding": {"kind": "Pod", "name": "api-6c9d8f7b6-abcde", "namespace": "shop",
                             "fieldPath": "spec.containers{api}"},
               "reportingController": "kubelet", "reportingInstance": "node-2",
               "series": {"count": 3, "lastObservedTime": "2026-03-02T10:05:00.000000Z"},
               "type": "Normal", "metadata": {"name": "x", "namespace": "shop"}}
    lines = [json.dumps(new_api),
             json.dumps({"type": "ADDED", "object": EVENTS[1]}),  # kubectl --output-watch-events
             json.dumps({"verb": "ADDED", "event": EVENTS[3]})]    # kube-eventrouter
    events = list(read_events("\n".join(lines) + "\n"))
    assert [(e.type, e.service, e.host, e.message) for e in events] == [
        ("restart", "api", "node-2", "Stopping container api"),
        ("scale", "checkout", "node-3", "Scaled up replica set checkout-7d9f8b5c4d to 3"),
        ("nodenotready", "", "node-7", "NodeNotReady")]
    assert events[0].ts == datetime(2026, 3, 2, 10, 0, 0, 123456, UTC)
    assert (events[0].attributes["count"], events[0].attributes["last_seen"]) == (
        3, "2026-03-02T10:05:00.000000Z")
    assert [e.line for e in events] == [1, 2, 3]


def test_an_event_without_a_time_is_named_by_its_item_and_the_rest_kept():
    broken = dict(EVENTS[1], firstTimestamp=None, lastTimestamp=None, metadata={})
    policy = ErrorPolicy(strict=False)
    events = list(read_events(json.dumps(dict(LIST, items=[EVENTS[0], broken])), policy=policy))
    assert len(events) == 1 and policy.count == 1
    assert policy.first[0].field == "items[1].ts"


def test_only_kubernetes_generated_suffixes_are_taken_off_a_name():
    from ingest.k8sevents import workload

    assert [workload("Pod", n) for n in ("checkout-7d9f8b5c4d-x2x9k", "fluent-bit-x2x9k",
                                          "my-nginx", "web-server", "postgres-0")] == [
        "checkout", "fluent-bit", "my-nginx", "web-server", "postgres-0"]
    assert workload("ReplicaSet", "payments-5f6b7c8d9") == "payments"
    assert workload("Deployment", "api-server") == "api-server"


def test_aiops_own_events_with_an_items_field_are_not_taken_for_a_list():
    doc = {"ts": "2026-03-02T10:00:00Z", "type": "deploy", "service": "checkout",
           "items": [1, 2]}
    (event,) = read_events(json.dumps(doc))
    assert (event.type, event.service, event.attributes["items"]) == ("deploy", "checkout",
                                                                     [1, 2])


def test_a_pod_killed_before_an_incident_is_named_in_its_root_cause(tmp_path, capsys):
    """The sample incident (postgres' pool exhausted at 10:21) with the cluster's Events
    beside it: the root cause names the container Kubernetes stopped 67 s before."""
    from aiops.cli import main
    from tests.conftest import SAMPLES

    events = [core_event("Killing", "Pod", "postgres-0", "2026-03-02T10:20:30Z",
                         message="Stopping container postgres",
                         field_path="spec.containers{postgres}"),
              core_event("Pulled", "Pod", "redis-6d5c4b3f2-h7k9m", "2026-03-02T10:05:00Z")]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(dict(LIST, items=events), indent=2))
    assert main(["replay", str(SAMPLES / "db-pool-exhaustion"), str(path), "--store",
                 str(tmp_path / "s.db"), "--no-progress"]) == 0
    (incident,) = json.loads(capsys.readouterr().out)["incidents"]
    assert incident["root_cause"]["service"] == "postgres"
    assert "restart at 2026-03-02T10:20:30Z (Stopping container postgres), 67s before its " \
           "first alert" in incident["root_cause"]["reason"]
