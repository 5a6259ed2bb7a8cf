"""Base model and lenient field types for DingTalk payloads.

Real responses are typed; DingTalk's doc samples stringify numbers and booleans, show arrays as
single objects and arrays as JSON text (EB-24). The types here accept all of that, and every model
keeps fields it does not know (``extra="allow"``) so nothing DingTalk adds is lost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import chain
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class DingTalkModel(BaseModel):
    """Base of every DingTalk payload model: unknown fields kept, numbers accepted for strings."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )

    def raw(self) -> dict[str, Any]:
        """The payload as DingTalk named it (aliases, unknown fields), JSON-safe, only the fields
        that were present."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return data


class CamelModel(DingTalkModel):
    """A payload whose wire names are camelCase (``hiredDate``); Python names are snake_case and
    both spellings are accepted on input."""

    model_config = ConfigDict(alias_generator=to_camel)


def _listish(value: Any) -> Any:
    """Accept ``"[2,3,4]"`` (JSON text), ``""`` (empty) and a lone object as lists."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text[0] in "[{":
            try:
                value = json.loads(text)
            except ValueError:
                return value
        elif "," in text:
            return [part.strip() for part in text.split(",") if part.strip()]
        else:
            return [text]
    if isinstance(value, dict):
        return [value]
    return value


def _objectish(value: Any) -> Any:
    """Accept an object given as JSON text; an empty string or list becomes ``None``."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return value
    if isinstance(value, list) and not value:
        return None
    return value


#: A list that also accepts JSON text, a comma-separated string or a single object.
LenientList = Annotated[list[T], BeforeValidator(_listish)]
#: An object that also accepts JSON text.
LenientObject = Annotated[T, BeforeValidator(_objectish)]


def ms_to_datetime(value: int | float | str | None) -> datetime | None:
    """Epoch milliseconds (Number or numeric String) → aware UTC datetime; ``None`` passes."""
    if value is None or value == "":
        return None
    return datetime.fromtimestamp(int(float(value)) / 1000, tz=UTC)


def parse_iso_datetime(value: str | None) -> datetime | None:
    """v1.0 ISO-like strings (``2021-01-06T11:47:37Z``, ``2022-08-31T11:52Z``) → aware UTC."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_dingtalk_map(value: Any) -> dict[int, Any]:
    """Old ``/user/get`` string maps: ``"{1:1}"``, ``"{1:false,2:true}"`` → ``{1: 1}``, ``{1:
    False, 2: True}``. Real JSON objects (``{"1": 1}``) are accepted too."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        items = list(value.items())
    else:
        text = str(value).strip()
        if text.startswith("{"):
            text = text[1:]
        if text.endswith("}"):
            text = text[:-1]
        items = []
        for pair in text.split(","):
            if ":" not in pair:
                continue
            key, _, val = pair.partition(":")
            items.append((key.strip().strip('"'), val.strip().strip('"')))
    out: dict[int, Any] = {}
    for key, val in items:
        try:
            dept = int(key)
        except (TypeError, ValueError):
            continue
        out[dept] = _scalar(val)
    return out


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        low = value.lower()
        if low in ("true", "false"):
            return low == "true"
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


# ----------------------------------------------------------------------------------------------
# Wire items as the dicts their models dump, without pydantic when nothing needs converting
# ----------------------------------------------------------------------------------------------
_NONE = type(None)


class _PlainSpec:
    """What :func:`plain_item` checks for one model."""

    __slots__ = ("allowed", "fields", "floats", "required")

    def __init__(self, model: type[BaseModel]) -> None:
        #: (wire name, exact value type) pairs validation returns unchanged.
        allowed: set[tuple[str, type]] = set()
        #: Names of the model's fields, wire and Python (a Python name given instead of the
        #: alias is renamed by validation: not plain).
        fields: set[str] = set()
        required: set[str] = set()
        #: Wire names of ``float`` fields (an ``int`` there is validated to ``float(value)``).
        floats: set[str] = set()
        for name, field in model.model_fields.items():
            wire = field.alias or name
            fields.update((wire, name))
            exact = _exact_types(field.annotation) or ()
            allowed.update((wire, t) for t in exact)
            if float in exact:
                floats.add(wire)
            if field.is_required():
                required.add(wire)
        self.allowed = frozenset(allowed)
        self.fields = frozenset(fields)
        self.floats = frozenset(floats)
        self.required = frozenset(required)


_PLAIN_SPECS: dict[type[BaseModel], _PlainSpec] = {}


def _exact_types(annotation: Any) -> tuple[type, ...] | None:
    """The types a value may have for validation to return it unchanged (``int``, ``str``,
    ``float``, ``bool``, optionally ``None``); ``None`` when the field is not that simple."""
    args = getattr(annotation, "__args__", None)
    members = args if args is not None and type(annotation).__name__ == "UnionType" else None
    if members is None and getattr(annotation, "__origin__", None) is not None:
        return None
    out: list[type] = []
    for member in members or (annotation,):
        if member in (int, str, float, bool, _NONE):
            out.append(member)
        else:
            return None
    return tuple(out)


def plain_item(model: type[BaseModel], item: Any) -> dict[str, Any]:
    """``model``'s wire item as ``model.model_validate(item).raw()`` would give it (only the
    fields present, DingTalk's names, unknown fields kept) — ``item`` itself when every field it
    carries already has the exact type validation returns unchanged (an ``int`` for an ``int``
    field, a ``str`` for a ``str`` one, ``None`` for an optional one) and every required one is
    there; otherwise through pydantic (converting ``"123"`` to ``123`` and raising
    ``ValidationError`` as validation does). For flat models of scalar fields (attendance
    results, punches, schedules); a field of another type sends the item through pydantic.

    Why: building and dumping a model per row was most of the parse cost of ~100-row pages;
    the check here is a few C-level set operations per item."""
    if item.__class__ is dict:
        spec = _PLAIN_SPECS.get(model)
        if spec is None:
            spec = _PLAIN_SPECS[model] = _PlainSpec(model)
        pairs = zip(item, map(type, item.values()), strict=True)
        if spec.allowed.issuperset(pairs) and spec.required.issubset(item):
            return item  # every field as validation returns it
        if spec.required.issubset(item):
            odd = set(zip(item, map(type, item.values()), strict=True)) - spec.allowed
            fields, floats = spec.fields, spec.floats
            known = [key for key, cls in odd if key in fields]
            if all(cls is int and key in floats for key, cls in odd if key in fields):
                if not known:
                    return item  # only unknown fields besides: kept as they came
                # ints in float fields (DingTalk's "userAccuracy": 65): what validation makes
                out = dict(item)
                for key in known:
                    out[key] = float(out[key])
                return out
    data: dict[str, Any] = model.model_validate(item).model_dump(
        mode="json", by_alias=True, exclude_unset=True
    )
    return data


def plain_items(model: type[BaseModel], items: list[Any]) -> list[Any]:
    """``[plain_item(model, item) for item in items]`` — the same dicts (the items themselves
    where :func:`plain_item` returns them, the same copies or validation results otherwise, the
    same errors) — checked a page at a time: one set of (field, value type) pairs over every
    item instead of one per item. When every item is a dict carrying the required fields and
    the page's pairs are all ones validation returns unchanged, besides ints in ``float``
    fields and unknown fields, only the items with an int in a ``float`` field are copied (as
    :func:`plain_item` copies them); any other page goes item by item."""
    if not items:
        return []
    spec = _PLAIN_SPECS.get(model)
    if spec is None:
        spec = _PLAIN_SPECS[model] = _PlainSpec(model)
    if set(map(type, items)) == {dict} and all(map(spec.required.issubset, items)):
        pairs = set(
            zip(
                chain.from_iterable(items),
                map(type, chain.from_iterable(map(dict.values, items))),
                strict=True,
            )
        )
        odd = pairs - spec.allowed
        if not odd:
            return list(items)
        fields, floats = spec.fields, spec.floats
        known = {key for key, _ in odd if key in fields}
        if all(cls is int and key in floats for key, cls in odd if key in fields):
            if not known:
                return list(items)
            out = []
            for item in items:
                ints = [key for key in known if key in item and item[key].__class__ is int]
                if ints:
                    item = dict(item)
                    for key in ints:
                        item[key] = float(item[key])
                out.append(item)
            return out
    return [plain_item(model, item) for item in items]
