"""Kubernetes Events as change events: ``kubectl get events -A -o json``, its watch output,
and the exporters that forward them (kube-eventrouter).

A rollout, a scale, a container killed or restarting in back-off is the change that an
incident on that workload most often follows, and the cluster already records it. An Event
(core ``v1`` or ``events.k8s.io/v1``) becomes an aiops change event: its type from the
reason (``ScalingReplicaSet``/``SuccessfulRescale`` scale, ``Killing``/``BackOff``/
``OOMKilling`` restart, ``DeploymentRollback`` rollback; any other reason is kept, lower-cased,
and counts as no change), at the time it was first seen, on the workload it is about: the
container named by ``fieldPath``, else the object's name less the hashes a ReplicaSet and a
Pod add (``checkout-7d9f8b-x2x9k`` is ``checkout``), which is how CRI logs name the same
workload. The node is the host; reason, namespace, object, count and Normal/Warning stay as
attributes.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

#: reason -> change type (anything else is kept as the reason, lower-cased)
REASON_TYPES = {
    "scalingreplicaset": "scale", "successfulrescale": "scale",
    "killing": "restart", "backoff": "restart", "oomkilling": "restart", "rebooted": "restart",
    "deploymentrollback": "rollback",
}
_CONTAINER_PATH = re.compile(r"spec\.(?:init)?[cC]ontainers\{([^}]+)\}")
#: the alphabet Kubernetes draws names' random parts from (no vowels: no words by chance),
#: so ``my-nginx`` and ``web-server`` keep their names
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_POD_SUFFIX = re.compile(rf"-{_SAFE}{{5}}$")
_TEMPLATE_HASH = re.compile(rf"-{_SAFE}{{6,10}}$")
_EVENT_HINT = re.compile(r'"(?:involvedObject|regarding)"\s*:')


def is_k8s_event(obj: Any) -> bool:
    return (type(obj) is dict and "reason" in obj
            and (type(obj.get("involvedObject")) is dict or type(obj.get("regarding")) is dict))


def mentions_k8s_events(text: str) -> bool:
    """Does a file's head hold Kubernetes Events (a List too large to parse from its head)?"""
    return _EVENT_HINT.search(text) is not None and '"reason"' in text


def k8s_events_in(obj: Any) -> bool:
    """Is this JSON document Kubernetes Events (one, a List, or a watch/exporter wrapper)?"""
    return _unwrapped(obj) is not None or (_is_list(obj)
                                           and any(is_k8s_event(i) for i in obj["items"]))


def _is_list(obj: Any) -> bool:
    return type(obj) is dict and obj.get("kind") in ("List", "EventList") \
        and type(obj.get("items")) is list


def _unwrapped(obj: Any) -> dict | None:
    """The Event a document is, or wraps (kubectl --output-watch-events, kube-eventrouter)."""
    if is_k8s_event(obj):
        return obj
    if type(obj) is dict:
        for key in ("object", "event"):
            if is_k8s_event(obj.get(key)):
                return obj[key]
    return None


def expand(location: str, obj: Any) -> Iterator[tuple[str, Any]]:
    """The items of a document: the Events in it as change-event objects, or itself."""
    if _is_list(obj):  # errors name the item: 'items[3].ts' ('[0].items[3].ts' in an array)
        prefix = "" if location.startswith("line ") else location + "."
        items = [(f"{prefix}items[{i}]", as_change(item) if is_k8s_event(item) else item)
                 for i, item in enumerate(obj["items"])]
        # a List is in no particular order (kubectl's is by name): in time order, a replay
        # merges it with its other inputs without holding records back
        items.sort(key=lambda pair: str(pair[1].get("ts") or "") if type(pair[1]) is dict
                   else "")
        yield from items
        return
    event = _unwrapped(obj)
    yield location, (as_change(event) if event is not None else obj)


def workload(kind: str, name: str) -> str:
    """The workload an object belongs to: a Pod's or ReplicaSet's name less its hashes."""
    if kind == "Pod":
        name = _TEMPLATE_HASH.sub("", _POD_SUFFIX.sub("", name))
    elif kind == "ReplicaSet":
        name = _TEMPLATE_HASH.sub("", name)
    return name


def as_change(event: dict) -> dict:
    """A Kubernetes Event under the keys an aiops change event reads."""
    about = event.get("involvedObject") or event.get("regarding") or {}
    kind, name = str(about.get("kind", "")), str(about.get("name", ""))
    container = _CONTAINER_PATH.search(str(about.get("fieldPath", "")))
    source = event.get("source") or event.get("deprecatedSource") or {}
    host = source.get("host") or event.get("reportingInstance") or ""
    if kind == "Node":
        host = host or name
    metadata = event.get("metadata") or {}
    stamp = (event.get("eventTime") or event.get("firstTimestamp")
             or event.get("deprecatedFirstTimestamp") or event.get("lastTimestamp")
             or metadata.get("creationTimestamp"))
    reason = str(event.get("reason", ""))
    out: dict[str, Any] = {
        "ts": stamp,
        "type": REASON_TYPES.get(reason.lower(), reason.lower() or "other"),
        "service": container.group(1) if container else ("" if kind == "Node"
                                                         else workload(kind, name)),
        "message": event.get("message") or event.get("note") or reason,
        "host": host,
        "reason": reason,
        "namespace": about.get("namespace") or metadata.get("namespace", ""),
        "object": f"{kind}/{name}",
        "k8s_type": event.get("type", ""),
    }
    series = event.get("series") or {}  # events.k8s.io/v1's repeats
    count = event.get("count") or series.get("count")
    if count:
        out["count"] = count
    last = event.get("lastTimestamp") or series.get("lastObservedTime")
    if last and last != stamp:
        out["last_seen"] = last
    return out
