"""The guard every Python step runs under.

`switchboard plugin build` (and `sdk/python/build.sh`) wraps the plugin's
`Handler` and `Understanding` classes with `guarded`, so an author writes
nothing for it. Without the guard, an uncaught exception traps the component
and the host sees only "Python function threw an unexpected exception"; a
return value of the wrong shape traps while it is converted, or goes through
as something else. With it, both become `step-error::crashed`, carrying the
exception and its traceback, or the path to the first value out of shape.

The check walks the dataclasses componentize-py generates from the contract
(their type hints), so it follows the WIT with nothing written twice.
"""

import dataclasses
import enum
import traceback
import typing
from typing import Any, Optional

from componentize_py_types import Err
from wit_world.imports import types as t

# The most of a traceback sent to the host, from its innermost end.
MAX_TRACEBACK_CHARS = 4000


def crashed(kind: t.CrashKind, message: str, trace: str = "") -> Err:
    """The `step-error::crashed` for `message`, as the exception to raise."""
    return Err(t.StepError_Crashed(t.Crash(kind=kind, message=message, traceback=trace[-MAX_TRACEBACK_CHARS:])))


def guarded(app: Any, name: str) -> Any:
    """`app.<name>` (`Handler` or `Understanding`) with every method it
    exports guarded: exceptions and answers out of shape become typed errors."""
    cls = getattr(app, name, None)
    if cls is None:
        raise AttributeError(f"app.py defines no class {name}: the world this plugin is built for exports it")
    methods = {"Handler": "run", "Understanding": "classify"}
    method = methods[name]
    expected = _return_type(name, method)
    original = getattr(cls, method)

    def call(self: Any, input: Any) -> Any:
        try:
            answer = original(self, input)
        except Err:
            raise
        except Exception as error:  # the guard's whole point: nothing escapes untyped
            message = f"{type(error).__name__}: {error}"
            raise crashed(t.CrashKind.EXCEPTION, message, traceback.format_exc())
        problem = shape_problem(answer, expected, method)
        if problem is not None:
            raise crashed(t.CrashKind.BAD_OUTPUT, problem)
        return answer

    # The protocol class componentize-py generates has an `init` that raises
    # NotImplementedError: only an `init` the plugin wrote is its own.
    from wit_world import exports

    own_init = getattr(cls, "init", None)
    if own_init is getattr(getattr(exports, name), "init", None):
        own_init = None

    def init(self: Any, config: str) -> None:
        # The build adds `init` (WIT 0.2.0) to every export: it parses the
        # config once, before the host snapshots the instance, then runs
        # the class's own `init`, if it has one, guarded like the method.
        import switchboard_sdk

        switchboard_sdk.keep_config(config)
        if own_init is None:
            return
        try:
            own_init(self, config)
        except Err:
            raise
        except Exception as error:
            raise crashed(t.CrashKind.EXCEPTION, f"{type(error).__name__}: {error}", traceback.format_exc())

    return type(cls.__name__, (cls,), {method: call, "init": init})


def _return_type(name: str, method: str) -> Any:
    from wit_world import exports

    protocol = getattr(exports, name)
    return typing.get_type_hints(getattr(protocol, method))["return"]


def shape_problem(value: Any, hint: Any, where: str) -> Optional[str]:
    """Why `value` is not a `hint` (a type from the generated bindings),
    naming the first place it goes wrong; None if it is one."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return None
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        # A variant case it is an instance of: what is wrong is inside it.
        chosen = [option for option in options if isinstance(option, type) and isinstance(value, option)]
        if len(options) == 1 or len(chosen) == 1:
            return shape_problem(value, (chosen or options)[0], where)
        if any(shape_problem(value, option, where) is None for option in options):
            return None
        names = ", ".join(getattr(option, "__name__", str(option)) for option in options)
        return f"{where} is {_describe(value)}, not one of {names}"
    if origin is list:
        if not isinstance(value, list):
            return f"{where} is {_describe(value)}, not a list"
        for index, item in enumerate(value):
            problem = shape_problem(item, args[0], f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if origin is tuple:
        if not isinstance(value, tuple) or len(value) != len(args):
            return f"{where} is {_describe(value)}, not a tuple of {len(args)}"
        for index, (item, arg) in enumerate(zip(value, args)):
            problem = shape_problem(item, arg, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            return f"{where} is {_describe(value)}, not {hint.__name__}"
        hints = typing.get_type_hints(hint)
        for field in dataclasses.fields(hint):
            problem = shape_problem(getattr(value, field.name), hints[field.name], f"{where}.{field.name}")
            if problem is not None:
                return problem
        return None
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        ok = isinstance(value, hint)
    elif isinstance(hint, type):
        ok = isinstance(value, hint)
    else:
        return None
    return None if ok else f"{where} is {_describe(value)}, not {getattr(hint, '__name__', hint)}"


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
