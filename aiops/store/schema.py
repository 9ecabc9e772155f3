"""The embedded store's tables, and the roll-ups its triggers keep exact.

The tables, indexes and triggers in one place (what a table holds, what a migration adds),
apart from how :mod:`aiops.store.sqlite` reads and writes them.
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    offset INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    ts_min INTEGER,
    ts_max INTEGER,
    idem_key TEXT UNIQUE,
    received_at REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
-- batches and records the retention removed from the input log, per kind (totals stay whole)
CREATE TABLE IF NOT EXISTS pruned (kind TEXT PRIMARY KEY, batches INTEGER NOT NULL,
                                   records INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    service TEXT,
    severity TEXT,
    source TEXT,
    starts_at TEXT,
    ends_at TEXT,
    incident_id TEXT,
    suppressed TEXT,
    seq INTEGER NOT NULL,
    doc BLOB NOT NULL,
    name TEXT,
    repeats INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts(incident_id);
CREATE INDEX IF NOT EXISTS alerts_starts ON alerts(starts_at, id);
CREATE INDEX IF NOT EXISTS alerts_fingerprint ON alerts(fingerprint);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    severity TEXT,
    owner_layer TEXT,
    root_service TEXT,
    services TEXT,
    opened_at TEXT,
    resolved_at TEXT,
    seq INTEGER NOT NULL,
    doc BLOB NOT NULL,
    acknowledged_at TEXT
);
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents(opened_at, id);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents(status);
CREATE TABLE IF NOT EXISTS templates (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    template TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen TEXT,
    last_seen TEXT,
    PRIMARY KEY (source, id)
);
CREATE TABLE IF NOT EXISTS signals (
    hour TEXT NOT NULL,
    kind TEXT NOT NULL,
    service TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (hour, kind, service)
);
CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, doc BLOB NOT NULL);
-- what responders wrote on an incident (aiops.store.notes): theirs, not the engine's state
CREATE TABLE IF NOT EXISTS incident_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_notes_incident ON incident_notes(incident_id, id);
"""

#: Light columns the HTTP service's dashboards aggregate over (added to stores made before them).
ADDED_COLUMNS = (
    ("alerts", "name", "TEXT"),
    ("alerts", "repeats", "INTEGER NOT NULL DEFAULT 0"),
    ("incidents", "acknowledged_at", "TEXT"),
    ("incidents", "scope", "TEXT"),  # "|cluster=eu-1|env=prod|": the scope filter's column
)

#: Roll-ups the dashboards read instead of scanning 100k alert rows: alert counts per event-time
#: hour x service x alertname x status x suppression (for windowed questions), the same without
#: the hour and per hour alone (the common unwindowed ones), each incident's first alert start.
#: Triggers keep them exact under the upserts of ``save_checkpoint`` (old row out, new row in).
_ROLLUP_KEY = ("substr({r}.starts_at, 1, 13), COALESCE({r}.service, ''), COALESCE({r}.name, ''), "
               "{r}.status, COALESCE({r}.suppressed, '')")
_TOTAL_KEY = ("COALESCE({r}.service, ''), COALESCE({r}.name, ''), {r}.status, "
              "COALESCE({r}.suppressed, '')")
_ROLLUP_ADD = (
    "INSERT INTO alert_rollup(hour, service, name, status, suppressed, alerts, notifications) "
    "VALUES (" + _ROLLUP_KEY.format(r="NEW") + ", 1, 1 + NEW.repeats) "
    "ON CONFLICT(hour, service, name, status, suppressed) DO UPDATE SET "
    "alerts = alerts + 1, notifications = notifications + excluded.notifications;"
    "INSERT INTO alert_totals(service, name, status, suppressed, alerts, notifications) "
    "VALUES (" + _TOTAL_KEY.format(r="NEW") + ", 1, 1 + NEW.repeats) "
    "ON CONFLICT(service, name, status, suppressed) DO UPDATE SET "
    "alerts = alerts + 1, notifications = notifications + excluded.notifications;"
    "INSERT INTO alert_hours(hour, alerts, notifications) "
    "VALUES (substr(NEW.starts_at, 1, 13), 1, 1 + NEW.repeats) "
    "ON CONFLICT(hour) DO UPDATE SET "
    "alerts = alerts + 1, notifications = notifications + excluded.notifications;"
    "INSERT INTO incident_signal(incident_id, first_at) SELECT NEW.incident_id, NEW.starts_at "
    "WHERE NEW.incident_id IS NOT NULL ON CONFLICT(incident_id) DO UPDATE SET "
    "first_at = MIN(first_at, excluded.first_at);")
_ROLLUP_SUB = (
    "UPDATE alert_rollup SET alerts = alerts - 1, notifications = notifications - 1 - "
    "OLD.repeats WHERE (hour, service, name, status, suppressed) = (" +
    _ROLLUP_KEY.format(r="OLD") + ");"
    "UPDATE alert_totals SET alerts = alerts - 1, notifications = notifications - 1 - "
    "OLD.repeats WHERE (service, name, status, suppressed) = (" + _TOTAL_KEY.format(r="OLD") +
    ");"
    "UPDATE alert_hours SET alerts = alerts - 1, notifications = notifications - 1 - "
    "OLD.repeats WHERE hour = substr(OLD.starts_at, 1, 13);")
ROLLUP_SCHEMA = (
    "CREATE TABLE alert_rollup (hour TEXT NOT NULL, service TEXT NOT NULL, name TEXT NOT NULL, "
    "status TEXT NOT NULL, suppressed TEXT NOT NULL, alerts INTEGER NOT NULL, "
    "notifications INTEGER NOT NULL, PRIMARY KEY (hour, service, name, status, suppressed))",
    "CREATE TABLE alert_totals (service TEXT NOT NULL, name TEXT NOT NULL, "
    "status TEXT NOT NULL, suppressed TEXT NOT NULL, alerts INTEGER NOT NULL, "
    "notifications INTEGER NOT NULL, PRIMARY KEY (service, name, status, suppressed))",
    "CREATE TABLE alert_hours (hour TEXT PRIMARY KEY, alerts INTEGER NOT NULL, "
    "notifications INTEGER NOT NULL)",
    "CREATE TABLE incident_signal (incident_id TEXT PRIMARY KEY, first_at TEXT)",
    "CREATE INDEX IF NOT EXISTS incidents_light ON incidents(opened_at, id, status, severity, "
    "owner_layer, root_service, services, acknowledged_at, resolved_at)",
    f"CREATE TRIGGER alerts_rollup_insert AFTER INSERT ON alerts BEGIN {_ROLLUP_ADD} END",
    f"CREATE TRIGGER alerts_rollup_update AFTER UPDATE ON alerts BEGIN {_ROLLUP_SUB} "
    f"{_ROLLUP_ADD} END",
    f"CREATE TRIGGER alerts_rollup_delete AFTER DELETE ON alerts BEGIN {_ROLLUP_SUB} END",
    # stores made before the roll-ups: count what is there
    "INSERT INTO alert_rollup SELECT " + _ROLLUP_KEY.format(r="alerts") +
    ", COUNT(*), SUM(1 + repeats) FROM alerts GROUP BY 1, 2, 3, 4, 5",
    "INSERT INTO alert_totals SELECT " + _TOTAL_KEY.format(r="alerts") +
    ", COUNT(*), SUM(1 + repeats) FROM alerts GROUP BY 1, 2, 3, 4",
    "INSERT INTO alert_hours SELECT substr(starts_at, 1, 13), COUNT(*), SUM(1 + repeats) "
    "FROM alerts GROUP BY 1",
    "INSERT INTO incident_signal SELECT incident_id, MIN(starts_at) FROM alerts "
    "WHERE incident_id IS NOT NULL GROUP BY incident_id",
)


#: The incidents' outbox: a row per change someone may be told about (shown for the first
#: time, acknowledged, resolved, reopened, severity raised or lowered), written by a trigger
#: in the transaction that stores the incident, so a notifier reading it in ``id`` order
#: (``api.notify``) misses nothing and a crash between the two cannot happen. Rewrites of an
#: incident that change neither status nor severity (a new member, a new timeline line) add
#: nothing. Created empty in older stores: their past is not news.
CHANGES_SCHEMA = (
    "CREATE TABLE incident_changes (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "incident_id TEXT NOT NULL, status TEXT NOT NULL, severity TEXT, "
    "previous_status TEXT, previous_severity TEXT)",
    "CREATE TRIGGER incidents_changes BEFORE INSERT ON incidents "
    "WHEN NOT EXISTS (SELECT 1 FROM incidents WHERE id = NEW.id AND status = NEW.status "
    "AND severity IS NEW.severity) BEGIN "
    "INSERT INTO incident_changes(incident_id, status, severity, previous_status, "
    "previous_severity) SELECT NEW.id, NEW.status, NEW.severity, "
    "(SELECT status FROM incidents WHERE id = NEW.id), "
    "(SELECT severity FROM incidents WHERE id = NEW.id); END",
    "CREATE TABLE notify_cursors (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL)",
)
