"""Unit tests for the slot logic; run with `python3 -m unittest` in this folder."""

import unittest

import slots

MONDAY_08_00_YEREVAN = 1_767_585_600_000  # 2026-01-05T04:00Z = 08:00 in Yerevan (+04:00)
HOUR = 3_600_000

CONFIG = {
    "utc_offset_minutes": 240,
    "slot_minutes": 60,
    "min_notice_minutes": 120,
    "horizon_days": 7,
    "offers": 3,
    "max_per_day": 2,
    "hours": {"mon": ["10:00-13:00", "14:00-19:00"], "tue": ["10:00-19:00"], "sun": []},
}


class PickTest(unittest.TestCase):
    def test_offers_the_nearest_slots_after_notice_two_per_day(self):
        offers = slots.pick(slots.Settings.parse(CONFIG), MONDAY_08_00_YEREVAN, "en")
        self.assertEqual([o.label for o in offers], ["Mon 05.01 10:00", "Mon 05.01 11:00", "Tue 06.01 10:00"])

    def test_booked_slots_are_skipped(self):
        config = dict(CONFIG, booked=[{"start": MONDAY_08_00_YEREVAN + 2 * HOUR, "end": MONDAY_08_00_YEREVAN + 4 * HOUR}])
        offers = slots.pick(slots.Settings.parse(config), MONDAY_08_00_YEREVAN, "en")
        self.assertEqual(offers[0].label, "Mon 05.01 12:00")

    def test_minimum_notice_pushes_the_first_slot(self):
        offers = slots.pick(slots.Settings.parse(CONFIG), MONDAY_08_00_YEREVAN + 2 * HOUR, "en")
        self.assertEqual(offers[0].label, "Mon 05.01 12:00")

    def test_part_of_day_in_russian_and_armenian(self):
        settings = slots.Settings.parse(CONFIG)
        evening = slots.pick(settings, MONDAY_08_00_YEREVAN, "ru", window=slots.part_of_day("Вечером"))
        self.assertEqual([o.label for o in evening], ["Пн 05.01 17:00", "Пн 05.01 18:00", "Вт 06.01 17:00"])
        self.assertEqual(slots.part_of_day("առավոտ"), (0, 720))

    def test_labels_follow_the_locale(self):
        offers = slots.pick(slots.Settings.parse(CONFIG), MONDAY_08_00_YEREVAN, "hy")
        self.assertTrue(offers[0].label.startswith("Երկ "))

    def test_bad_config_is_a_config_error(self):
        with self.assertRaises(slots.ConfigError):
            slots.Settings.parse(dict(CONFIG, offers=7))
        with self.assertRaises(slots.ConfigError):
            slots.Settings.parse(dict(CONFIG, hours={"mon": ["ten-seven"]}))


if __name__ == "__main__":
    unittest.main()
