"""A test host for a plugin's `app.py`, on plain CPython.

`switchboard plugin test` (or `python3 -m unittest` with the contract's
bindings on `PYTHONPATH`, from `sdk/python/build.sh --bindings DIR`) runs a
plugin's tests with this beside them, so the adapter itself, not only the
logic under it, is tested in Python:

    from switchboard_sdk.testing import TestHost, step_input
    import app

    def test_greets(self):
        with TestHost(settings={"region": "am"}) as host:
            decisions = app.Handler().run(step_input("greet", config={"greeting": "Barev"}))
        self.assertEqual(decisions[0].value.text, "Barev, there!")
        self.assertEqual(host.logs, [])

`TestHost` stands in for the host's imports while it is open: `kv` (a
dict), `config.get` and `config.secret` (what it was given), and `log`
(`host.logs`, `(level, message)` pairs).
"""

import json
from typing import Any, Dict, List, Optional, Tuple

from wit_world.imports import config as config_import
from wit_world.imports import kv as kv_import
from wit_world.imports import log as log_import
from wit_world.imports import types as t

#: What `now` is, unless a test says: 2026-01-05T08:00:00Z, in Unix ms.
NOW = 1_767_600_000_000


def value(raw: Any) -> t.Value:
    """A field's value from plain Python: text, a number, a boolean, or a
    `t.Value` as it is."""
    if isinstance(raw, bool):
        return t.Value_Boolean(raw)
    if isinstance(raw, (int, float)):
        return t.Value_Number(float(raw))
    if isinstance(raw, str):
        return t.Value_Text(raw)
    return raw


def step_input(
    step: str,
    *,
    fields: Optional[Dict[str, Any]] = None,
    config: Any = None,
    text: Optional[str] = None,
    intent: Optional[str] = None,
    display_name: Optional[str] = None,
    locale: str = "en",
    contact_id: str = "test:1",
    channel: t.Channel = t.Channel.WEBCHAT,
    score: int = 0,
    now: int = NOW,
) -> t.StepInput:
    """A step input as the host would build it. `config` is the tenant's
    config for the plugin (a dict, turned into the JSON text it receives)."""
    message = None if text is None else t.Message(text=text, payload=None, received_at=now)
    return t.StepInput(
        tenant="test",
        conversation=contact_id,
        step=step,
        channel=channel,
        contact=t.Contact(id=contact_id, display_name=display_name, locale=locale),
        intent=intent,
        message=message,
        fields=[t.Field(name=name, value=value(raw)) for name, raw in sorted((fields or {}).items())],
        score=score,
        now=now,
        config="" if config is None else json.dumps(config),
    )


class TestHost:
    """The host's imports, faked while the `with` block runs."""

    def __init__(
        self,
        *,
        settings: Optional[Dict[str, str]] = None,
        secrets: Optional[Dict[str, str]] = None,
        kv: Optional[Dict[str, bytes]] = None,
    ) -> None:
        self.settings = dict(settings or {})
        self.secrets = dict(secrets or {})
        self.kv: Dict[str, bytes] = dict(kv or {})
        self.logs: List[Tuple[str, str]] = []
        self._saved: List[Tuple[Any, str, Any]] = []

    def __enter__(self) -> "TestHost":
        fakes = [
            (kv_import, "get", lambda key: self.kv.get(key)),
            (kv_import, "set", self._kv_set),
            (kv_import, "delete", lambda key: self.kv.pop(key, None) and None),
            (config_import, "get", lambda name: self.settings.get(name)),
            (config_import, "secret", lambda name: self.secrets.get(name)),
            (log_import, "log", lambda level, message: self.logs.append((level.name.lower(), message))),
        ]
        for module, name, fake in fakes:
            self._saved.append((module, name, getattr(module, name)))
            setattr(module, name, fake)
        return self

    def __exit__(self, *_: Any) -> None:
        for module, name, original in reversed(self._saved):
            setattr(module, name, original)
        self._saved.clear()

    def _kv_set(self, key: str, data: bytes) -> None:
        self.kv[key] = bytes(data)
