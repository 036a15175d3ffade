"""Discord's limits on application commands, checked as Discord checks them on registration.

From Discord's documentation of application commands: CHAT_INPUT command and option names
match ``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`` in lower case where a letter has
one; descriptions are 1-100 characters (USER and MESSAGE commands: empty, names of 1-32 any
case); at most 25 options (subcommands and groups included) at each level and 25 choices per
option, choice names 1-100 and string values up to 100 characters; required options before
optional ones; and the names, descriptions and choice names and values of one top-level
command, all levels together, at most 8,000 characters. A breach is a 400 "Invalid Form
Body" (50035) whose `errors` point at the field, as Discord answers.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from tests.fakediscord._internals import _ApiError

MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_NAME = 32
MAX_DESCRIPTION = 100
MAX_CHOICE = 100
MAX_COMMAND_CHARS = 8000
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
CHAT_INPUT = 1


def _name_char(ch: str) -> bool:
    if ch in "-_'":
        return True
    if unicodedata.category(ch)[0] in "LN":
        return True
    return 0x0900 <= ord(ch) <= 0x097F or 0x0E00 <= ord(ch) <= 0x0E7F  # Devanagari, Thai


def _field_error(path: list[str | int], code: str, message: str) -> _ApiError:
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {str(key): errors}
    return _ApiError(400, 50035, "Invalid Form Body", errors)


def _check_name(name: Any, path: list[str | int], *, chat_input: bool) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise _field_error(
            [*path, "name"], "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_NAME} in length."
        )
    if chat_input and (name != name.lower() or not all(_name_char(ch) for ch in name)):
        raise _field_error(
            [*path, "name"],
            "APPLICATION_COMMAND_INVALID_NAME",
            "Command name is invalid",
        )


def _check_description(text: Any, path: list[str | int]) -> None:
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_DESCRIPTION:
        raise _field_error(
            [*path, "description"],
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MAX_DESCRIPTION} in length.",
        )


def _check_options(options: list[dict[str, Any]], path: list[str | int], depth: int) -> None:
    if len(options) > MAX_OPTIONS:
        raise _field_error(
            [*path, "options"],
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_OPTIONS} or fewer in length.",
        )
    seen: set[str] = set()
    optional_seen = False
    for index, option in enumerate(options):
        where = [*path, "options", index]
        _check_name(option.get("name"), where, chat_input=True)
        _check_description(option.get("description"), where)
        if option["name"] in seen:
            raise _field_error(
                where,
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        seen.add(option["name"])
        kind = option.get("type")
        nested = option.get("options") or []
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            # a group holds subcommands only; a subcommand holds no subcommand or group
            inner = {o.get("type") for o in nested}
            if depth >= (1 if kind == SUB_COMMAND_GROUP else 2) or (
                inner - {SUB_COMMAND}
                if kind == SUB_COMMAND_GROUP
                else inner & {SUB_COMMAND, SUB_COMMAND_GROUP}
            ):
                raise _field_error(
                    where, "APPLICATION_COMMAND_OPTION_INVALID_NESTING", "Invalid nesting"
                )
            _check_options(nested, where, depth + 1)
            continue
        if option.get("required"):
            if optional_seen:
                raise _field_error(
                    where,
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if len(choices) > MAX_CHOICES:
            raise _field_error(
                [*where, "choices"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_CHOICES} or fewer in length.",
            )
        for number, choice in enumerate(choices):
            name, value = choice.get("name"), choice.get("value")
            if not isinstance(name, str) or not 1 <= len(name) <= MAX_CHOICE:
                raise _field_error(
                    [*where, "choices", number, "name"],
                    "BASE_TYPE_BAD_LENGTH",
                    f"Must be between 1 and {MAX_CHOICE} in length.",
                )
            if isinstance(value, str) and not 1 <= len(value) <= MAX_CHOICE:
                raise _field_error(
                    [*where, "choices", number, "value"],
                    "BASE_TYPE_BAD_LENGTH",
                    f"Must be between 1 and {MAX_CHOICE} in length.",
                )


def command_characters(spec: dict[str, Any]) -> int:
    """What counts toward the 8,000: names, descriptions, choice names and values, at every
    level of one top-level command."""

    def size(node: dict[str, Any]) -> int:
        total = len(node.get("name") or "") + len(node.get("description") or "")
        for choice in node.get("choices") or []:
            total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
        return total + sum(size(option) for option in node.get("options") or [])

    return size(spec)


def check_command(spec: dict[str, Any], path: list[str | int]) -> None:
    """Raise the 400 Discord answers when `spec` (a command as registered) breaks a limit."""
    chat_input = spec.get("type", CHAT_INPUT) == CHAT_INPUT
    _check_name(spec.get("name"), path, chat_input=chat_input)
    if chat_input:
        _check_description(spec.get("description"), path)
        _check_options(spec.get("options") or [], path, 0)
    elif spec.get("description"):
        raise _field_error([*path, "description"], "BASE_TYPE_BAD_LENGTH", "Must be 0 in length.")
    if command_characters(spec) > MAX_COMMAND_CHARS:
        raise _ApiError(
            400,
            50035,
            "Invalid Form Body",
            {
                **({str(path[0]): {}} if path else {}),
                "_errors": [
                    {
                        "code": "APPLICATION_COMMAND_TOO_LARGE",
                        "message": f"Command exceeds maximum size ({MAX_COMMAND_CHARS})",
                    }
                ],
            },
        )
