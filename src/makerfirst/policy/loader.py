"""Load the policy file, apply ``--set`` overrides and validate it into a :class:`Policy`.

Every failure is a :class:`PolicyError` whose ``problems`` are one line each, in the form
``<dotted.path>: <what is wrong> (got <value>); allowed: <what is allowed>``. The "allowed"
part is read from the models' field types and constraints, so it stays true as they change.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Hashable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from makerfirst.domain.errors import PolicyError as PolicyError  # noqa: PLC0414  # re-exported
from makerfirst.policy.models import Policy

# The package's data files, beside its code (setuptools installs them as files, never zipped).
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_BOOL_TAG = "tag:yaml.org,2002:bool"


def default_policy_path(name: str = "policy.yaml") -> Path:
    """The policy shipped inside the package (a copy of ``config/policy.yaml``), whatever the cwd;
    ``name="demo-policy.yaml"`` is the paper demo's."""
    return PACKAGE_DATA / name


def load_policy(path: Path | None = None, overrides: Sequence[str] = ()) -> Policy:
    """Read the policy at ``path`` (the shipped one when None), apply ``overrides`` and validate.

    ``overrides`` are ``dotted.key=value`` strings (see :func:`parse_overrides`), applied in
    order after the file is read, so they are validated exactly like the file's own values.
    Raises :class:`PolicyError` for an unreadable or malformed file, a malformed override
    and every validation problem (all of them, not just the first).
    """
    parsed = parse_overrides(overrides)
    source = default_policy_path() if path is None else path
    data = _read_mapping(source)
    for key, value in parsed.items():
        _apply_override(data, key, value)
    try:
        return Policy.model_validate(data)
    except ValidationError as err:
        raise PolicyError([_describe(error, data) for error in err.errors()]) from err


def parse_overrides(overrides: Sequence[str]) -> dict[str, object]:
    """Parse ``dotted.key=value`` strings into ``{dotted.key: value}``; a later key wins.

    The value is YAML, read like the file (``false`` is a bool, ``2`` an int, ``0.5`` a float,
    ``yes`` a string, an empty value null).
    Raises :class:`PolicyError` listing every malformed override.
    """
    parsed: dict[str, object] = {}
    problems: list[str] = []
    for override in overrides:
        key, equals, raw = override.partition("=")
        key = key.strip()
        if not equals or not all(key.split(".")):
            problems.append(f"--set expects dotted.key=value, got {override!r}")
            continue
        try:
            parsed[key] = _parse_yaml(raw)
        except yaml.YAMLError as err:
            problems.append(f"--set {key}: the value {raw!r} is not valid YAML ({_yaml_reason(err)})")
    if problems:
        raise PolicyError(problems)
    return parsed


# libyaml's parser when PyYAML was built with it (its wheels are), else PyYAML's pure-Python one:
# the same documents, nodes and marks, about ten times faster on a policy file.
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _PolicyLoader(_SafeLoader):
    """``yaml.SafeLoader`` with two refusals that matter for a file of switches.

    * Only ``true``/``false`` (any case style YAML 1.2 allows) are bools: YAML 1.1's
      ``yes``/``no``/``on``/``off`` stay strings, which the strict bool fields then refuse.
    * A key repeated in one mapping is an error: plain ``safe_load`` keeps the last one, so a
      rollback line added at the bottom of a section could be silently outvoted by one above it.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[tuple[str, object]] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# Resolvers are a class table: give this class its own copy without YAML 1.1 bools, never mutate SafeLoader's.
_PolicyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}
_PolicyLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _read_mapping(path: Path) -> dict[str, object]:
    """Read ``path`` as a YAML mapping; every failure names the file (and the line when known)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError([f"{path}: policy file not found"]) from None
    except UnicodeDecodeError as err:
        raise PolicyError([f"{path}: not UTF-8 text ({err.reason} at byte {err.start})"]) from err
    except OSError as err:
        raise PolicyError([f"{path}: cannot read the policy file ({err.strerror or err})"]) from err
    try:
        data = copy.deepcopy(_parse_policy_text(text))  # a copy: the overrides are applied in place
    except yaml.YAMLError as err:
        mark = err.problem_mark if isinstance(err, yaml.MarkedYAMLError) else None
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise PolicyError([f"{path}{where}: invalid YAML: {_yaml_reason(err)}"]) from err
    if not isinstance(data, dict):
        raise PolicyError([f"{path}: the top level must be a mapping of sections (got {_show(data)})"])
    return data


@lru_cache(maxsize=8)
def _parse_policy_text(text: str) -> object:
    """A policy file's text parsed once per process: a backtest loads the same file for every
    policy it compares; the text is read again each time, so an
    edited file is parsed again."""
    return _parse_yaml(text)


def _parse_yaml(text: str) -> object:
    """``yaml.safe_load`` with :class:`_PolicyLoader`'s refusals; for files and ``--set`` values alike."""
    loader = _PolicyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_reason(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError) and err.problem:
        return err.problem
    return str(err)


def _apply_override(data: dict[str, object], dotted_key: str, value: object) -> None:
    """Set ``dotted_key`` in ``data``, creating missing parents (validation then judges the keys)."""
    *parents, leaf = dotted_key.split(".")
    node = data
    for depth, part in enumerate(parents, start=1):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            parent_path = ".".join(parents[:depth])
            raise PolicyError([f"--set {dotted_key}: {parent_path} is not a mapping (got {_show(child)})"])
        node = child
    node[leaf] = value


def _describe(error: ErrorDetails, data: Mapping[str, object]) -> str:
    """One problem line for one pydantic error, worded from the field's type and constraints."""
    loc = tuple(str(part) for part in error["loc"])
    path = ".".join(loc)
    parent, field = _locate(loc)
    if error["type"] == "extra_forbidden" and parent is not None:
        return f"{path}: unknown key; allowed keys: {', '.join(sorted(parent.model_fields))}"
    got = _show(_raw_value(data, loc, error["input"]))
    if error["type"] == "policy_rule":  # a rule between keys: the message names values and the fix
        key = str(error.get("ctx", {}).get("key", ""))
        return f"{'.'.join(part for part in (path, key) if part)}: {error['msg']}"
    if field is None:
        return f"{path}: {error['msg']} (got {got})"
    section = _model_of(field)
    if section is not None:
        return (
            f"{path}: must be a mapping (got {got}); allowed keys: {', '.join(sorted(section.model_fields))}"
        )
    ctx = error.get("ctx", {})
    problem = f"{path}: {_what_is_wrong(error, ctx)} (got {got})"
    allowed = _allowed(field, ctx)
    return f"{problem}; allowed: {allowed}" if allowed else problem


_BOUND_ERRORS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
_TYPE_ERRORS = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def _what_is_wrong(error: ErrorDetails, ctx: Mapping[str, object]) -> str:
    if error["type"] in _BOUND_ERRORS:
        op, key = _BOUND_ERRORS[error["type"]]
        return f"must be {op} {ctx[key]}"
    return _TYPE_ERRORS.get(error["type"], error["msg"])


def _allowed(field: FieldInfo, ctx: Mapping[str, object]) -> str | None:
    """What ``field`` accepts, from its type and bounds, narrowed by a cross-field error's ``ge``/``le``.

    None for a bool: "must be true or false" already says it all.
    """
    if field.annotation is int:
        kind = "an integer"
    elif field.annotation is Decimal:
        kind = "a number"
    else:
        return None
    bounds: dict[str, Decimal] = {}
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            bounds["ge"] = Decimal(str(item.ge))
        elif isinstance(item, annotated_types.Gt):
            bounds["gt"] = Decimal(str(item.gt))
        elif isinstance(item, annotated_types.Le):
            bounds["le"] = Decimal(str(item.le))
        elif isinstance(item, annotated_types.Lt):
            bounds["lt"] = Decimal(str(item.lt))
    for key, tighter in (("ge", max), ("le", min)):
        if key in ctx:
            limit = Decimal(str(ctx[key]))
            bounds[key] = tighter(bounds[key], limit) if key in bounds else limit
    if "ge" in bounds and "le" in bounds:
        return f"{kind} from {bounds['ge']} to {bounds['le']}"
    ops = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    limits = " and ".join(f"{ops[key]} {value}" for key, value in bounds.items())
    return f"{kind} {limits}" if limits else kind


def _locate(loc: tuple[str, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model holding the last key of ``loc`` and that key's field (None where there is none)."""
    model: type[BaseModel] = Policy
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        child = _model_of(field) if field is not None else None
        if child is None:
            return None, None
        model = child
    return model, model.model_fields.get(loc[-1]) if loc else None


def _model_of(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _raw_value(data: Mapping[str, object], loc: tuple[str, ...], fallback: object) -> object:
    """The value as written in the file or override, which pydantic's ``input`` may have converted."""
    node: object = data
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return fallback
        node = node[part]
    return node


def _show(value: object) -> str:
    """A value as the user wrote it: YAML's spelling for bools and null, quotes around strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)
