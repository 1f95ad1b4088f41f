"""The argument parsers of train.py and predict.py (samskaping.cli.common.Parser)."""

from __future__ import annotations

import pytest

from samskaping.cli.predict import parser as predict_parser
from samskaping.cli.train import parser as train_parser
from samskaping.runtime import Int8Recipe


@pytest.mark.parametrize(
    "make, argv",
    [
        (train_parser, ["--ouput", "models/x"]),
        (predict_parser, ["plan.pdf", "--ouput", "out"]),
        (predict_parser, ["plan.pdf", "--ouput=out"]),
    ],
)
def test_a_mistyped_option_is_named_with_did_you_mean(make, argv, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        make().parse_args(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith(f"error: unknown option --ouput (did you mean --output?); see {make().prog} --help for the options")
    )
    assert "required" not in err


def test_an_abbreviated_option_is_not_taken_for_the_long_one(capsys) -> None:
    with pytest.raises(SystemExit):
        train_parser().parse_args(["--out", "models/x"])
    assert "unknown option --out (did you mean --output?)" in capsys.readouterr().err


def test_an_unknown_option_far_from_every_known_one_has_no_guess(capsys) -> None:
    with pytest.raises(SystemExit):
        predict_parser().parse_args(["plan.pdf", "--output", "o", "--zzzzzz"])
    assert "unknown option --zzzzzz; see predict.py --help" in capsys.readouterr().err


def test_values_after_a_double_dash_are_not_options() -> None:
    args = predict_parser().parse_args(["--output", "o", "--", "--odd-name.pdf"])
    assert args.inputs == ["--odd-name.pdf"]


def test_int8_help_names_the_weights_the_recipe_uses() -> None:
    bits = "7-bit" if Int8Recipe().reduce_range else "8-bit"
    text = " ".join(predict_parser().format_help().split())
    assert f"({bits} weights, 8-bit activations)" in text
    assert "8-bit integer weights" not in text
    assert bits in Int8Recipe().describe()
