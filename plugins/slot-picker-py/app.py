"""The slot picker as a Switchboard step: `slots.py` behind the plugin contract."""

from typing import List

import switchboard_sdk as sdk
from wit_world import exports
from wit_world.imports import types as t

import slots

PROMPTS = {
    "en": "Here are the nearest free times. Which suits you?",
    "ru": "Вот ближайшее свободное время. Что вам удобно?",
    "hy": "Ահա մոտակա ազատ ժամերը։ Որն է ձեզ հարմար։",
}


class Handler(exports.Handler):
    def run(self, input: t.StepInput) -> List[t.Decision]:
        try:
            settings = slots.Settings.parse(sdk.config(input))
        except slots.ConfigError as error:
            raise sdk.invalid_config(str(error))
        window = slots.part_of_day(sdk.text(input, "time_of_day"))
        earliest = sdk.datetime_ms(input, "preferred_date")
        locale = input.contact.locale.split("-")[0]
        offers = slots.pick(settings, input.now, locale, earliest, window)
        if len(offers) < 2:
            raise sdk.refused(f"fewer than 2 free slots in the next {settings.horizon_days} days")
        return [
            t.Decision_OfferSlots([t.Slot(start=o.start, end=o.end, label=o.label, resource=None) for o in offers]),
            sdk.reply(PROMPTS.get(locale, PROMPTS["en"]), [(o.label, f"slot:{o.start}") for o in offers]),
        ]
