"""Helpers for Switchboard step plugins written in Python.

componentize-py generates `wit_world` from `wit/since_v0.2.0` at build time;
this module wraps the parts a plugin author touches most: reading fields and
config, building decisions, and refusing a step with a typed error.

Only `wit_world`'s types are used here, so plugin logic that avoids this
module (see `plugins/slot-picker-py/slots.py`) can be unit-tested on plain
CPython without building anything.

The build runs the plugin behind `guard.py`: an exception the step does not
catch, or an answer that is not a list of decisions, reaches the host as a
typed error with its cause (`exception`, `bad_output`) instead of a trap.
"""

import json
from typing import Any, Iterable, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import types as t


def field(step: t.StepInput, name: str) -> Optional[t.Value]:
    """The collected field called `name`, or None."""
    for item in step.fields:
        if item.name == name:
            return item.value
    return None


def text(step: t.StepInput, name: str) -> Optional[str]:
    value = field(step, name)
    return value.value if isinstance(value, t.Value_Text) else None


def number(step: t.StepInput, name: str) -> Optional[float]:
    value = field(step, name)
    return value.value if isinstance(value, t.Value_Number) else None


def datetime_ms(step: t.StepInput, name: str) -> Optional[int]:
    value = field(step, name)
    return value.value if isinstance(value, t.Value_Datetime) else None


# The config `init` parsed, as (text, value): the host snapshots the
# instance after `init`, so every call finds it here already parsed.
_kept: Optional[Tuple[str, Any]] = None


def _parse(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise Err(t.StepError_InvalidConfig(f"config is not JSON: {error}"))


def keep_config(text: str) -> None:
    """Parse the binding's config once, for `config` to return: what the
    `init` the build adds does (see `guard.py`). Bad JSON refuses the binding."""
    global _kept
    _kept = (text, _parse(text))


def _default_init(self: Any, config: str) -> None:
    """The `init` every export has unless its class writes one: keep the
    parsed config for `config`."""
    keep_config(config)


def _give_exports_a_default_init() -> None:
    """componentize-py makes `init` abstract on the export protocols, so a
    plugin's `Handler` that does not write one could not even be made in a
    unit test. The build's guard always supplies it; this gives the
    protocols the same default, for every class defined after this module
    is imported (an app.py imports it first)."""
    try:
        from wit_world import exports
    except ImportError:  # bindings without exports: nothing to give
        return
    for name in ("Handler", "Understanding"):
        protocol = getattr(exports, name, None)
        if protocol is not None and "init" in getattr(protocol, "__abstractmethods__", ()):
            protocol.init = _default_init
            protocol.__abstractmethods__ = frozenset(protocol.__abstractmethods__ - {"init"})


_give_exports_a_default_init()


def config(step: t.StepInput) -> Any:
    """The tenant's config for this plugin, parsed: by `init` when the
    binding was made (so no call parses it again), or now when the step
    carries another. Treat it as read-only. Bad JSON refuses the step."""
    if _kept is not None and _kept[0] == step.config:
        return _kept[1]
    return _parse(step.config)


def reply(message: str, options: Iterable[Tuple[str, str]] = (), locale: Optional[str] = None) -> t.Decision:
    """A reply, with quick replies given as (title, payload) pairs.

    `locale` says which language `message` is in, for a step that answers in
    several: the host keeps the replies in the conversation's language.
    """
    quick = [t.QuickReply(title=title, payload=payload) for title, payload in options]
    return t.Decision_Reply(t.Reply(text=message, quick_replies=quick, locale=locale))


def ask(field_name: str, prompt: Optional[str] = None, options: Iterable[Tuple[str, str]] = (),
        locale: Optional[str] = None) -> t.Decision:
    """Ask for `field_name`, with the flow's own prompt unless `prompt` is given."""
    quick = [t.QuickReply(title=title, payload=payload) for title, payload in options]
    return t.Decision_Ask(t.Ask(field=field_name, prompt=prompt, quick_replies=quick, locale=locale))


def invalid_input(message: str) -> Err:
    return Err(t.StepError_InvalidInput(message))


def invalid_config(message: str) -> Err:
    return Err(t.StepError_InvalidConfig(message))


def refused(message: str) -> Err:
    return Err(t.StepError_Refused(message))


def unavailable(message: str) -> Err:
    return Err(t.StepError_Unavailable(message))
