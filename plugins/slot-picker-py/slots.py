"""Pick 2-4 bookable slots from a tenant's opening hours and bookings (scenario 2).

Pure logic, no component bindings: `python3 -m unittest` runs its tests on
plain CPython. `app.py` adapts it to the Switchboard contract.

Times are milliseconds since the Unix epoch (UTC). The tenant's local time is
UTC plus `utc_offset_minutes`, which is enough for a single-zone business
between daylight-saving changes; the host passes zone-aware times in later
contract versions.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

MINUTE = 60_000
DAY = 24 * 60 * MINUTE
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DAY_NAMES = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "ru": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"),
    "hy": ("Երկ", "Երք", "Չրք", "Հնգ", "Ուրբ", "Շբթ", "Կիր"),
}

# What customers write for a part of the day, in the languages they write in.
PARTS_OF_DAY = {
    "morning": (0, 12 * 60),
    "утро": (0, 12 * 60),
    "утром": (0, 12 * 60),
    "առավոտ": (0, 12 * 60),
    "afternoon": (12 * 60, 17 * 60),
    "днём": (12 * 60, 17 * 60),
    "днем": (12 * 60, 17 * 60),
    "день": (12 * 60, 17 * 60),
    "ցերեկ": (12 * 60, 17 * 60),
    "evening": (17 * 60, 24 * 60),
    "вечер": (17 * 60, 24 * 60),
    "вечером": (17 * 60, 24 * 60),
    "երեկո": (17 * 60, 24 * 60),
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Offer:
    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Settings:
    utc_offset_minutes: int
    slot_minutes: int
    min_notice_minutes: int
    horizon_days: int
    offers: int
    max_per_day: int
    hours: Dict[str, List[Tuple[int, int]]]
    booked: List[Tuple[int, int]]

    @staticmethod
    def parse(config: dict) -> "Settings":
        try:
            offers = int(config.get("offers", 3))
            if not 2 <= offers <= 4:
                raise ConfigError("offers must be between 2 and 4")
            hours = {day: [_span(span) for span in config.get("hours", {}).get(day, [])] for day in WEEKDAYS}
            booked = [(int(b["start"]), int(b["end"])) for b in config.get("booked", [])]
            settings = Settings(
                utc_offset_minutes=int(config.get("utc_offset_minutes", 0)),
                slot_minutes=int(config.get("slot_minutes", 60)),
                min_notice_minutes=int(config.get("min_notice_minutes", 60)),
                horizon_days=int(config.get("horizon_days", 14)),
                offers=offers,
                max_per_day=int(config.get("max_per_day", 2)),
                hours=hours,
                booked=booked,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(str(error)) from error
        if settings.slot_minutes <= 0 or settings.horizon_days <= 0 or settings.max_per_day <= 0:
            raise ConfigError("slot_minutes, horizon_days and max_per_day must be positive")
        return settings


def _span(text: str) -> Tuple[int, int]:
    """'10:00-19:00' -> minutes since local midnight."""
    start, end = text.split("-")
    return _minutes(start), _minutes(end)


def _minutes(text: str) -> int:
    hours, minutes = text.strip().split(":")
    return int(hours) * 60 + int(minutes)


def part_of_day(text: Optional[str]) -> Optional[Tuple[int, int]]:
    if not text:
        return None
    return PARTS_OF_DAY.get(text.strip().lower())


def pick(settings: Settings, now: int, locale: str, earliest: Optional[int] = None,
         window: Optional[Tuple[int, int]] = None) -> List[Offer]:
    """Up to `settings.offers` free slots, at most `max_per_day` a day, soonest first."""
    offset = settings.utc_offset_minutes * MINUTE
    not_before = max(now + settings.min_notice_minutes * MINUTE, earliest or 0)
    local_midnight = (now + offset) // DAY * DAY  # today's local midnight, in "local ms"
    slot = settings.slot_minutes * MINUTE
    names = DAY_NAMES.get(locale.split("-")[0], DAY_NAMES["en"])
    offers: List[Offer] = []
    for day in range(settings.horizon_days):
        day_start_local = local_midnight + day * DAY
        weekday = (day_start_local // DAY + 3) % 7  # 1970-01-01 was a Thursday
        taken_today = 0
        for open_minute, close_minute in settings.hours[WEEKDAYS[weekday]]:
            minute = open_minute
            while minute + settings.slot_minutes <= close_minute and taken_today < settings.max_per_day:
                start = day_start_local + minute * MINUTE - offset
                end = start + slot
                minute += settings.slot_minutes
                if start < not_before or _overlaps(start, end, settings.booked):
                    continue
                if window and not (window[0] <= (minute - settings.slot_minutes) < window[1]):
                    continue
                offers.append(Offer(start, end, _label(start + offset, names, weekday)))
                taken_today += 1
                if len(offers) == settings.offers:
                    return offers
    return offers


def _overlaps(start: int, end: int, booked: Sequence[Tuple[int, int]]) -> bool:
    return any(start < booked_end and booked_start < end for booked_start, booked_end in booked)


def _label(local_ms: int, names: Sequence[str], weekday: int) -> str:
    minutes_of_day = (local_ms % DAY) // MINUTE
    days = local_ms // DAY
    # Civil date from days since the epoch (Howard Hinnant's algorithm).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day_of_month = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return f"{names[weekday]} {day_of_month:02d}.{month:02d} {minutes_of_day // 60:02d}:{minutes_of_day % 60:02d}"
