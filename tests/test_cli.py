"""The command table: every command answers --help with an example; unknown names are refused."""

import pytest

from p2peval.cli import COMMANDS, main


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help_with_an_example(path, capsys):
    with pytest.raises(SystemExit) as e:
        main([*path, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert f"p2peval {' '.join(path)}" in out and "example:" in out


def test_top_level_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for path in COMMANDS:
        assert " ".join(path) in out


def test_unknown_commands_are_refused_with_the_valid_ones(capsys):
    assert main(["fcn-scroe"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'fcn-scroe'" in err and "fcn-score" in err
    assert main(["scorer", "trian"]) == 2
    err = capsys.readouterr().err
    assert "scorer trian" in err and "import-caffe" in err
