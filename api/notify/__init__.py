"""Outbound notifications: each incident change, once, to webhooks, chat and PagerDuty.

Reducing a flood to a few incidents helps only if someone hears about them: ``aiops serve``
posts every change worth a page (an incident shown for the first time, reopened, raised or
lowered in severity, acknowledged, resolved) to each ``[[notify.webhooks]]`` entry, as
plain JSON, as a Slack-compatible ``{"text": ...}`` message (Slack, Mattermost, Rocket.Chat
incoming webhooks), as a PagerDuty Events API v2 event (trigger / acknowledge / resolve,
``dedup_key`` = the incident id, so PagerDuty keeps one alert per aiops incident), or as an
alert posted to an Alertmanager, whose routing tree then delivers incidents (open ones
re-posted every minute, as Prometheus re-sends its firing alerts).

Delivery is at least once, in order, per webhook: the changes come from the store's outbox
(written in the transaction that stores the incident), a webhook's cursor advances only
after a 2xx, and a failing one is retried with backoff (up to a minute apart) without
holding up the others or the engine. A restart resumes from the stored cursor. Each post
carries ``Idempotency-Key: <webhook>-<change id>`` for receivers that deduplicate.
"""

from api.notify.config import (DEFAULT_EVENTS, EVENTS, FORMATS, Hook, hooks_from_config,
                               pagerduty_secret)
from api.notify.deliver import Notifier, post
from api.notify.formats import event_of, payload, root_links

__all__ = ["DEFAULT_EVENTS", "EVENTS", "FORMATS", "Hook", "Notifier", "event_of",
           "hooks_from_config", "pagerduty_secret", "payload", "post", "root_links"]
