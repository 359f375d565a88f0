"""The command table: every command answers --help with an example; unknown names are refused."""

import pytest

from p2peval.cli import COMMANDS, main


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_help_with_an_example(path, capsys):
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
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


def test_png_encoder_round_trips_every_layout(tmp_path):
    """encode_png against PIL's decoder: grey, RGB, RGBA, both filters, odd sizes; refusals."""
    import numpy as np
    import pytest
    from PIL import Image

    from p2peval.core.imageio import encode_png, write_png

    rng = np.random.default_rng(0)
    for shape in ((1, 1), (7, 5), (33, 64), (1, 9, 3), (17, 3, 3), (64, 48, 3), (9, 11, 4)):
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        a[: shape[0] // 2] = 200  # a flat part too
        for photo in (False, True):
            p = write_png(tmp_path / f"{shape}_{photo}.png", a, photo=photo)
            with Image.open(p) as im:
                im.load()
                assert im.mode == {1: "L", 3: "RGB", 4: "RGBA"}[1 if len(shape) == 2 else shape[2]]
                np.testing.assert_array_equal(np.asarray(im), a)
    view = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)[::2, ::3]  # non-contiguous input
    with Image.open(write_png(tmp_path / "view.png", view, photo=True)) as im:
        np.testing.assert_array_equal(np.asarray(im), view)
    for bad in (np.zeros((4, 4), np.uint16), np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4), np.uint8),
                np.zeros(4, np.uint8)):
        with pytest.raises(ValueError, match="encode_png"):
            encode_png(bad)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind


def test_png_encoder_without_isal_falls_back_to_zlib(monkeypatch):
    import io

    import numpy as np
    from PIL import Image

    from p2peval.core import imageio

    a = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    had_isal, with_isal = imageio._isal_zlib is not None, imageio.encode_png(a, photo=True)
    monkeypatch.setattr(imageio, "_isal_zlib", None)
    for photo in (False, True):
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(imageio.encode_png(a, photo)))), a)
    if had_isal:  # the fallback really took another path
        assert imageio.encode_png(a, photo=True) != with_isal
