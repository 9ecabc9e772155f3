from datetime import datetime, timezone

import pytest

from ingest.errors import ParseError
from ingest.timestamps import TimestampParser

UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-11-28T17:50:17Z", datetime(2026, 11, 28, 17, 50, 17, tzinfo=UTC)),
    ("2026-11-28T17:50:17.065941366Z", datetime(2026, 11, 28, 17, 50, 17, 65941, tzinfo=UTC)),
    ("2026-11-28T19:50:17+02:00", datetime(2026, 11, 28, 17, 50, 17, tzinfo=UTC)),
    ("2015-07-29 17:41:44,747", datetime(2015, 7, 29, 17, 41, 44, 747000, tzinfo=UTC)),
    ("081109 203615", datetime(2008, 11, 9, 20, 36, 15, tzinfo=UTC)),
    ("17/06/09 20:10:40", datetime(2017, 6, 9, 20, 10, 40, tzinfo=UTC)),
    ("[Sun Dec 04 04:47:44 2005]", datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC)),
    ("Sun Dec 04 04:47:44 2005", datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC)),
    ("20171223-22:15:29:606", datetime(2017, 12, 23, 22, 15, 29, 606000, tzinfo=UTC)),
    ("10/Oct/2000:13:55:36 -0700", datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)),
    ("1795888459", datetime(2026, 11, 28, 17, 54, 19, tzinfo=UTC)),
    ("1795888459585", datetime(2026, 11, 28, 17, 54, 19, 585000, tzinfo=UTC)),
    ("1795888459585392896", datetime(2026, 11, 28, 17, 54, 19, 585393, tzinfo=UTC)),
    ("Tue, 01 Dec 2026 10:00:00 GMT", datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)),
])
def test_layouts(text, expected):
    got = TimestampParser().parse(text)
    assert abs((got - expected).total_seconds()) < 1e-3
    assert got.tzinfo is not None


def test_epoch_numbers_by_magnitude():
    p = TimestampParser()
    base = datetime(2026, 11, 28, 17, 54, 19, tzinfo=UTC)
    for value in (1795888459, 1795888459_000, 1795888459_000_000, 1795888459_000_000_000,
                  1795888459.0):
        assert p.parse(value) == base


def test_syslog_without_year_takes_given_year_and_rolls_over():
    p = TimestampParser(year=2016)
    assert p.parse("Dec 31 23:59:59") == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert p.parse("Jan  1 00:00:01") == datetime(2017, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_timezone_option_applies_to_naive_only():
    p = TimestampParser(tz="Europe/Paris")
    assert p.parse("2026-07-01 12:00:00") == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert p.parse("2026-07-01T12:00:00Z") == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert TimestampParser(tz="+05:30").parse("2026-07-01 12:00:00") == \
        datetime(2026, 7, 1, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["yesterday", "", "2026-13-45T00:00:00Z", True, None,
                                 "1900-01-01T00:00:00Z", "2999-01-01T00:00:00Z", float("nan"),
                                 "12345"])
def test_bad_timestamps_raise_parse_error(bad):
    with pytest.raises(ParseError) as info:
        TimestampParser().parse(bad)
    assert "expected" in str(info.value)


def test_unknown_timezone_is_a_parse_error():
    with pytest.raises(ParseError, match="timezone"):
        TimestampParser(tz="Mars/Olympus")


@pytest.mark.parametrize("tz", [None, "+05:30", "Europe/Paris"])
def test_sub_second_stamps_are_their_second_plus_the_fraction(tz):
    """Many lines share a second: that part is parsed once per stream, the fraction comes
    from a table. Every stamp must still be what ``datetime.fromisoformat`` reads."""
    import random

    from ingest.timestamps import resolve_timezone

    rng = random.Random(7)
    zone = resolve_timezone(tz)
    p = TimestampParser(tz=tz)
    for _ in range(3000):
        second = datetime(2026, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                          rng.randint(0, 1), rng.randint(0, 59))  # minutes repeat
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
        sep, mark, zulu = rng.choice("T "), rng.choice(".,"), rng.random() < 0.5
        text = second.isoformat(sep=sep) + mark + digits + ("Z" if zulu else "")
        naive = datetime.fromisoformat(second.isoformat() + "." + digits[:6].ljust(6, "0"))
        expected = naive.replace(tzinfo=UTC if zulu else zone).astimezone(UTC)
        assert p.parse(text) == expected, text


@pytest.mark.parametrize("bad", ["2026-13-01 10:00:00.123", "2026-01-01 10:00:61.5Z",
                                 "2026-01-01T10:00:00.12x", "2026-01-01T10:00:00.Z",
                                 "1900-01-01 00:00:00.5"])
def test_a_bad_sub_second_stamp_is_reported_as_given(bad):
    with pytest.raises(ParseError) as info:
        TimestampParser().parse(bad)
    assert bad in str(info.value)
