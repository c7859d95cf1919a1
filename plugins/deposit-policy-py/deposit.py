"""The deposit rule, in plain Python: unit-tested with `python3 -m unittest`."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    deposit_percent: int
    from_minor: int

    @staticmethod
    def parse(config: dict) -> "Policy":
        return Policy(deposit_percent=int(config["deposit_percent"]), from_minor=int(config["from_minor"]))


def deposit_minor(policy: Policy, price_minor: int) -> int:
    """The deposit for a service of `price_minor`, rounded down; 0 when none is asked."""
    if price_minor < policy.from_minor:
        return 0
    return price_minor * policy.deposit_percent // 100


MESSAGES = {
    "en": "A deposit of {amount} holds your booking; the rest is paid at the salon.",
    "ru": "Чтобы закрепить запись, нужна предоплата {amount}; остальное оплачивается в салоне.",
    "hy": "Ամրագրումը պահելու համար անհրաժեշտ է կանխավճար՝ {amount}, մնացածը վճարվում է սրահում։",
}


def message(locale: str, amount_minor: int, currency: str) -> str:
    amount = f"{amount_minor // 100:,} {currency}".replace(",", " ")
    return MESSAGES.get(locale.split("-")[0], MESSAGES["en"]).format(amount=amount)
