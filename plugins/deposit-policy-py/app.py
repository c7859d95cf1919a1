"""The deposit policy as a Switchboard step: `deposit.py` behind the plugin contract."""

from typing import List

import switchboard_sdk as sdk
from wit_world import exports
from wit_world.imports import log
from wit_world.imports import types as t

import deposit


class Handler(exports.Handler):
    def run(self, input: t.StepInput) -> List[t.Decision]:
        policy = deposit.Policy.parse(sdk.config(input))
        price = sdk.field(input, "price")
        if not isinstance(price, t.Value_Money):
            raise sdk.invalid_input("the deposit step needs the service's price (a money field called price)")
        amount = deposit.deposit_minor(policy, price.value.amount_minor)
        log.log(log.Level.INFO, f"price {price.value.amount_minor}, deposit {amount}")
        if amount == 0:
            return []
        held = t.Money(amount_minor=amount, currency=price.value.currency)
        text = deposit.message(input.contact.locale, amount, price.value.currency)
        return [
            t.Decision_SetField(t.Field(name="deposit", value=t.Value_Money(held))),
            sdk.reply(text, locale=input.contact.locale.split("-")[0]),
        ]
