"""JSON body templates of the custom HTTP destination.

A template is a JSON value whose strings may hold ``{{ name }}`` placeholders:

- a string that is exactly one placeholder is replaced by the typed value (a number stays a
  number, null stays null, an object stays an object);
- placeholders inside a longer string (or an object key) are interpolated as text: null → "",
  booleans and numbers as JSON spells them, objects and lists as compact JSON;
- ``name`` is a mapped field, a dotted path into nested values (``address.city``, ``tags.0``) or a
  ``$variable``. A field the record does not hold renders null: the records of a delete hold only
  the match key, and one template serves every operation.

Templates are compiled once (when the config is validated, and once per destination instance)
into a tree of closures, so rendering a record walks no template text and runs no regex.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "BatchTemplate",
    "RecordTemplate",
    "TemplateContext",
    "TemplateError",
    "compile_batch_template",
    "compile_record_template",
]

MAX_DEPTH = 32  # deeper templates are refused: a clear error instead of a RecursionError


class TemplateError(ValueError):
    """A template that cannot be compiled; the message names the problem and where it is."""


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """What every record of one write shares."""

    operation: str  # upsert / insert / update / delete (a mirror's upserts are "upsert")
    object_name: str
    match_key: str | None


@dataclass(frozen=True, slots=True)
class _BatchInput:
    records: Any  # a list of rendered records, or an orjson.Fragment of pre-rendered ones
    count: int


# A compiled node: (record or batch input, context) -> JSON value.
type _Render = Callable[[Any, TemplateContext], Any]


def _key_value(record: Any, context: TemplateContext) -> Any:
    return record.get(context.match_key) if context.match_key else None


_RECORD_VARIABLES: Mapping[str, _Render] = {
    "$operation": lambda record, context: context.operation,
    "$object": lambda record, context: context.object_name,
    "$match_key": lambda record, context: context.match_key,
    "$key": _key_value,
    "$record": lambda record, context: record,
}
_BATCH_VARIABLES: Mapping[str, _Render] = {
    "$records": lambda batch, context: batch.records,
    "$count": lambda batch, context: batch.count,
    "$operation": lambda batch, context: context.operation,
    "$object": lambda batch, context: context.object_name,
    "$match_key": lambda batch, context: context.match_key,
}


@dataclass(frozen=True)
class _Scope:
    name: str
    variables: Mapping[str, _Render]
    fields: bool  # whether record fields can be named
    whole_only: frozenset[str]  # variables that must be a whole string (they are lists)


_RECORD_SCOPE = _Scope("record_template", _RECORD_VARIABLES, True, frozenset())
_BATCH_SCOPE = _Scope("batch_template", _BATCH_VARIABLES, False, frozenset({"$records"}))


# --- parsing --------------------------------------------------------------------------------------
_DELIMITERS = re.compile(r"\{\{|\}\}")


@dataclass(frozen=True)
class _Placeholder:
    name: str


def _parse(text: str, where: str) -> list[str | _Placeholder]:
    """Literal texts and placeholders of ``text``, in order (compile time only)."""
    parts: list[str | _Placeholder] = []
    position = 0
    opened: int | None = None
    for match in _DELIMITERS.finditer(text):
        if match.group() == "{{":
            if opened is not None:
                raise TemplateError(f"{where}: '{{{{' inside a placeholder in {text!r}")
            if match.start() > position:
                parts.append(text[position : match.start()])
            opened = match.end()
        else:
            if opened is None:
                raise TemplateError(f"{where}: '}}}}' without an opening '{{{{' in {text!r}")
            name = text[opened : match.start()].strip()
            if not name:
                raise TemplateError(f"{where}: empty placeholder in {text!r}")
            if "{" in name or "}" in name:  # "{{{ x }}}": a stray brace, not a field name
                raise TemplateError(f"{where}: a stray brace inside a placeholder in {text!r}")
            parts.append(_Placeholder(name))
            opened = None
            position = match.end()
    if opened is not None:
        raise TemplateError(f"{where}: '{{{{' without a closing '}}}}' in {text!r}")
    if position < len(text):
        parts.append(text[position:])
    return parts


# --- compiling ------------------------------------------------------------------------------------
class _Compiler:
    def __init__(self, scope: _Scope) -> None:
        self.scope = scope
        self.uses: dict[str, int] = {}  # placeholder name -> occurrences

    def node(self, value: Any, path: tuple[str | int, ...]) -> _Render:
        if len(path) > MAX_DEPTH:
            raise TemplateError(f"{_where(path)}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, dict):
            return self.object(value, path)
        if isinstance(value, list):
            items = tuple(self.node(item, (*path, i)) for i, item in enumerate(value))
            return lambda source, context: [item(source, context) for item in items]
        if value is None or isinstance(value, bool):
            return _constant(value)
        if isinstance(value, int):
            # orjson writes 64-bit integers only; refuse now rather than fail every write later.
            if not -(2**63) <= value < 2**64:
                raise TemplateError(f"{_where(path)}: {value} is out of the 64-bit integer range")
            return _constant(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise TemplateError(f"{_where(path)}: {value} is not a JSON number")
            return _constant(value)
        raise TemplateError(f"{_where(path)}: a {type(value).__name__} is not a JSON value")

    def object(self, value: dict[Any, Any], path: tuple[str | int, ...]) -> _Render:
        items: list[tuple[_Render | str, _Render]] = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TemplateError(f"{_where(path)}: object keys must be strings, not {key!r}")
            key_parts = _parse(key, f"{_where(path)}, key {key!r}")
            rendered_key: _Render | str = key
            if any(isinstance(part, _Placeholder) for part in key_parts):
                rendered_key = self.text(key_parts, f"{_where(path)}, key {key!r}")
            items.append((rendered_key, self.node(item, (*path, key))))
        if all(isinstance(key, str) for key, _ in items):
            fixed = tuple((key, render) for key, render in items)
            return lambda source, context: {key: render(source, context) for key, render in fixed}
        return lambda source, context: {
            (key if isinstance(key, str) else key(source, context)): render(source, context)
            for key, render in items
        }

    def string(self, value: str, path: tuple[str | int, ...]) -> _Render:
        where = _where(path)
        parts = _parse(value, where)
        if len(parts) == 1 and isinstance(parts[0], _Placeholder):
            return self.placeholder(parts[0].name, where, whole=True)
        if not any(isinstance(part, _Placeholder) for part in parts):
            return _constant(value)
        return self.text(parts, where)

    def text(self, parts: Sequence[str | _Placeholder], where: str) -> _Render:
        pieces: list[_Render] = []
        for part in parts:
            if isinstance(part, str):
                pieces.append(_constant(part))
            else:
                pieces.append(_as_text(self.placeholder(part.name, where, whole=False)))
        frozen = tuple(pieces)
        return lambda source, context: "".join([piece(source, context) for piece in frozen])

    def placeholder(self, name: str, where: str, *, whole: bool) -> _Render:
        self.uses[name] = self.uses.get(name, 0) + 1
        scope = self.scope
        if name.startswith("$"):
            render = scope.variables.get(name)
            if render is None:
                available = ", ".join(sorted(scope.variables))
                hint = " (variables have no fields)" if "." in name else ""
                raise TemplateError(
                    f"{where}: unknown variable {{{{ {name} }}}}{hint}; {scope.name} can use {available}"
                )
            if name in scope.whole_only and not whole:
                raise TemplateError(
                    f'{where}: {{{{ {name} }}}} must be a whole JSON string ("{{{{ {name} }}}}") '
                    "because it becomes a list"
                )
            return render
        if not scope.fields:
            raise TemplateError(
                f"{where}: {scope.name} cannot name record fields ({{{{ {name} }}}}); "
                "use record_template to shape each record"
            )
        segments = tuple(segment.strip() for segment in name.split("."))
        if not all(segments):
            raise TemplateError(f"{where}: {{{{ {name} }}}} has an empty path segment")
        if len(segments) == 1:
            field = segments[0]
            return lambda record, context: record.get(field)
        return lambda record, context: _walk(record, segments)


def _constant(value: Any) -> _Render:
    return lambda source, context: value


def _as_text(render: _Render) -> _Render:
    return lambda source, context: _text(render(source, context))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # true/false, numbers, objects and lists as JSON spells them (not Python's True / 1e+20).
    return orjson.dumps(value).decode()


def _walk(value: Any, segments: tuple[str, ...]) -> Any:
    for segment in segments:
        if isinstance(value, dict):
            value = value.get(segment)
        elif isinstance(value, list) and segment.isdigit():
            index = int(segment)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def _where(path: tuple[str | int, ...]) -> str:
    if not path:
        return "at the top level"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return f"at {text}"


# --- public -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordTemplate:
    """A compiled ``record_template``: ``render(record, context)`` → the JSON value to send."""

    source: Any
    _render: _Render

    def render(self, record: Mapping[str, Any], context: TemplateContext) -> Any:
        return self._render(record, context)

    def render_all(self, records: Sequence[Mapping[str, Any]], context: TemplateContext) -> list[Any]:
        render = self._render
        return [render(record, context) for record in records]


@dataclass(frozen=True)
class BatchTemplate:
    """A compiled ``batch_template``: ``render(records, count, context)`` → the body bytes.

    ``records`` is a list of rendered records or an ``orjson.Fragment`` holding the JSON list
    text, which is embedded as-is (pre-rendered rows are never parsed just to be wrapped).
    """

    source: Any
    _render: _Render

    def render(self, records: Any, count: int, context: TemplateContext) -> bytes:
        return orjson.dumps(self._render(_BatchInput(records, count), context))


def _refuse_json_text(template: Any) -> None:
    """A template pasted as JSON text inside a string would be sent as one (escaped) string."""
    if isinstance(template, str) and template.lstrip()[:1] in ("{", "["):
        try:
            parsed = orjson.loads(template)
        except orjson.JSONDecodeError:
            return  # e.g. "{{ id }}": a real string template
        if isinstance(parsed, dict | list):
            raise TemplateError(
                "is a string holding JSON text; give the template as a JSON object or array, not as a string"
            )


def compile_record_template(template: Any) -> RecordTemplate:
    _refuse_json_text(template)
    compiler = _Compiler(_RECORD_SCOPE)
    render = compiler.node(template, ())
    if not compiler.uses:
        raise TemplateError(
            "has no placeholder, so every record would be sent the same; "
            'use e.g. "{{ email }}" or "{{ $record }}"'
        )
    return RecordTemplate(template, render)


def compile_batch_template(template: Any) -> BatchTemplate:
    _refuse_json_text(template)
    compiler = _Compiler(_BATCH_SCOPE)
    render = compiler.node(template, ())
    uses = compiler.uses.get("$records", 0)
    if uses != 1:
        found = "it is missing" if uses == 0 else f"found {uses}"
        raise TemplateError(
            f'must contain "{{{{ $records }}}}" exactly once, where the list of records goes; {found}'
        )
    return BatchTemplate(template, render)


# The contract's envelope, for a record template without a batch template.
DEFAULT_BATCH_TEMPLATE = compile_batch_template({"records": "{{ $records }}"})
