"""`rnnlm COMMAND --help`: every option with a default says what it is, zero included."""

import argparse

import pytest

from rnnlm.cli.main import build_parser


def commands():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_option_with_a_default_shows_it(name):
    parser = commands()[name]
    formatter = parser._get_formatter()
    for action in parser._actions:
        if (
            not action.option_strings
            or action.default is None
            or action.default is False
            or action.default is argparse.SUPPRESS
            or action.help is argparse.SUPPRESS
        ):
            continue
        assert "default" in formatter._expand_help(action), action.option_strings


def test_zero_defaults_are_shown():
    parser = commands()["train"]
    formatter = parser._get_formatter()
    actions = {a.option_strings[-1]: a for a in parser._actions if a.option_strings}
    for flag, default in (("--seed", "0"), ("--val-fraction", "0.0"), ("--save-every", "0"), ("--threads", "0")):
        assert formatter._expand_help(actions[flag]).endswith(f"(default: {default})"), flag
    assert "(default: 0)" in " ".join(parser.format_help().split())  # and in what --help prints
