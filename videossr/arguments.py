"""Command lines generated from dataclasses: every option is declared once, as a dataclass field.

A field's metadata carries what the command line needs (its help, aliases, a parser for the text): the same
pattern as TRL's ``GRPOConfig`` read by ``HfArgumentParser``, without the transformers dependency (the build
stage installs without torch). :func:`option` writes such a field::

    @dataclass
    class EvalConfig:
        model: str = option(help="model id or folder", required=True)
        frames: int | None = option(None, help="max frames per video", metavar="N")
        chart: bool = option(True, help="write chart.png")            # --chart / --no-chart

:class:`DataclassArgumentParser` turns one or more such dataclasses into an ``argparse`` parser. Options
never given keep no value in the parsed namespace, so callers can tell "given" from "default"
(:meth:`DataclassArgumentParser.parse_given`), which presets need (defaults <- preset <- flags).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def option(
    default: Any = _MISSING,
    *,
    help: str,
    default_factory: Callable[[], Any] | Any = _MISSING,
    aliases: Sequence[str] = (),
    metavar: str | None = None,
    choices: Sequence[Any] | None = None,
    parse: Callable[[str], Any] | None = None,
    group: str | None = None,
    nargs: str | int | None = None,
    const: Any = None,
    repeatable: bool = False,
    required: bool = False,
    positional: bool = False,
    cli: bool = True,
) -> Any:
    """A dataclass field with its command-line description in ``metadata``.

    ``parse`` turns the command-line text into the value (``int``, a pixel-size parser, ...; default: from
    the annotation); ``repeatable`` lets a list option be given several times, each adding its values
    (``--data a=1 --data b=2``; without it the last occurrence wins); ``required`` makes the option
    mandatory on the command line while the dataclass keeps its default for programmatic use;
    ``cli=False`` keeps a field off the command line.
    """
    metadata = {
        "help": help,
        "aliases": tuple(aliases),
        "metavar": metavar,
        "choices": tuple(choices) if choices is not None else None,
        "parse": parse,
        "group": group,
        "nargs": nargs,
        "const": const,
        "repeatable": repeatable,
        "required": required,
        "positional": positional,
        "cli": cli,
    }
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_name(name: str) -> str:
    """``max_pixels`` -> ``--max-pixels``."""
    return "--" + name.replace("_", "-")


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(annotation, False)``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:
        return f.default_factory()
    return _MISSING


def _describe_default(value: Any) -> str:
    if value is _MISSING or value is None or value == "" or value == () or value == []:
        return ""
    if isinstance(value, bool):
        return " (default: on)" if value else " (default: off)"
    if isinstance(value, (list, tuple)):
        return f" (default: {' '.join(str(v) for v in value)})"
    return f" (default: {value})"


def _argparse_kwargs(f: dataclasses.Field, annotation: Any) -> dict[str, Any]:
    """The ``add_argument`` keywords of one field (without the flag names)."""
    meta = f.metadata
    kind, _ = _strip_optional(annotation)
    default = _default_of(f)
    kwargs: dict[str, Any] = {"help": (meta.get("help") or "") + _describe_default(default)}
    kwargs["help"] = kwargs["help"].replace("%", "%%")
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    if kind is bool and meta.get("parse") is None:
        kwargs["action"] = argparse.BooleanOptionalAction
        return kwargs
    origin = typing.get_origin(kind)
    element = kind
    if origin in (list, tuple, Sequence) and meta.get("parse") is None:
        element = typing.get_args(kind)[0] if typing.get_args(kind) else str
        kwargs["nargs"] = meta.get("nargs") or "+"
    elif meta.get("nargs") is not None:
        kwargs["nargs"] = meta["nargs"]
        if meta["nargs"] == "?":
            kwargs["const"] = meta.get("const")
    if meta.get("repeatable") and kwargs.get("nargs") in ("+", "*"):
        kwargs["action"] = "extend"
    if typing.get_origin(element) is typing.Literal:
        kwargs["choices"] = typing.get_args(element)
        element = type(typing.get_args(element)[0])
    if meta.get("choices") is not None:
        kwargs["choices"] = meta["choices"]
    parse = meta.get("parse")
    if parse is not None:
        kwargs["type"] = _wrap_parse(parse)
    elif element in (int, float, str, Path):
        kwargs["type"] = element
    elif element is not Any:
        raise TypeError(f"field {f.name!r}: no command-line parser for {kind!r}; give option(parse=...)")
    return kwargs


def _wrap_parse(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parser whose ``ValueError`` becomes argparse's one-line usage error (its message kept)."""

    def run(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    run.__name__ = getattr(parse, "__name__", "value")
    return run


class DataclassArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser for the fields of ``dataclass_types`` (each field one option, in order)."""

    def __init__(self, dataclass_types: type | Sequence[type], **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)
        self.dataclass_types: tuple[type, ...] = (
            tuple(dataclass_types) if isinstance(dataclass_types, Sequence) else (dataclass_types,)
        )
        self._groups: dict[str, argparse._ArgumentGroup] = {}
        for cls in self.dataclass_types:
            self._add_dataclass(cls)

    def _add_dataclass(self, cls: type) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not f.init or not f.metadata.get("cli", True) or "help" not in f.metadata:
                continue
            kwargs = _argparse_kwargs(f, hints[f.name])
            target: argparse._ActionsContainer = self
            if f.metadata.get("group"):
                name = f.metadata["group"]
                if name not in self._groups:
                    self._groups[name] = self.add_argument_group(name)
                target = self._groups[name]
            if f.metadata.get("positional"):
                if _default_of(f) is not _MISSING:
                    kwargs.setdefault("nargs", "?")
                target.add_argument(f.name, default=argparse.SUPPRESS, **kwargs)
                continue
            names = [flag_name(f.name), *f.metadata.get("aliases", ())]
            required = bool(f.metadata.get("required")) or _default_of(f) is _MISSING
            target.add_argument(*names, dest=f.name, default=argparse.SUPPRESS, required=required, **kwargs)

    def parse_given(self, args: Sequence[str] | None = None) -> tuple[dict[str, Any], ...]:
        """Per dataclass, the values given on the command line (fields not given are absent)."""
        namespace = vars(self.parse_args(args))
        return tuple(
            {f.name: namespace[f.name] for f in dataclasses.fields(cls) if f.name in namespace}
            for cls in self.dataclass_types
        )

    def parse_into_dataclasses(self, args: Sequence[str] | None = None) -> tuple[Any, ...]:
        """One instance per dataclass: its defaults, then the values given on the command line."""
        return tuple(cls(**given) for cls, given in zip(self.dataclass_types, self.parse_given(args)))
