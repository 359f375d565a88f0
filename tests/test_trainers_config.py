"""pix2pix config: typed overrides, files, refusals; --describe through the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2peval.cli import main
from p2peval.core.errors import ConfigError, InputError
from trainers.pix2pix.config import TrainConfig, apply_overrides, load_config, validate


pytestmark = pytest.mark.usefixtures("one_torch_thread")


ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def test_overrides_are_typed():
    c = apply_overrides(TrainConfig(), ["generator.ngf=32", "optim.lr=1e-3", "data.flip=false",
                                        "steps=10", "data.max_images=none", "generator.norm=none"])
    assert (c.generator.ngf, c.optim.lr, c.data.flip, c.steps) == (32, 1e-3, False, 10)
    assert c.data.max_images is None and c.generator.norm == "none"
    assert isinstance(c.generator.ngf, int) and isinstance(c.optim.lr, float)


@pytest.mark.parametrize("item,msg", [("generator.ngf=3.5", "expected int"), ("optim.lr=fast", "expected float"),
                                      ("data.flip=maybe", "expected bool"), ("steps", "key=value"),
                                      ("generator=1", "is a section"), ("optim.lr=nan", "expected float")])
def test_bad_override_values(item, msg):
    with pytest.raises(ConfigError, match=msg):
        apply_overrides(TrainConfig(), [item])


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as e:
        apply_overrides(TrainConfig(), ["generator.width=3"])
    assert "generator.width" in str(e.value) and "generator.ngf" in str(e.value)
    with pytest.raises(ConfigError, match="valid keys: data, generator"):
        apply_overrides(TrainConfig(), ["gen.ngf=3"])


def test_validate_choices_and_depth():
    with pytest.raises(ConfigError, match="loss.objective"):
        validate(apply_overrides(TrainConfig(), ["loss.objective=wgan"]))
    assert validate(apply_overrides(TrainConfig(), ["data.crop_size=128", "data.load_size=143"])).generator.num_downs == 7
    assert validate(TrainConfig()).generator.num_downs == 8
    with pytest.raises(ConfigError, match="multiple of 2"):
        validate(apply_overrides(TrainConfig(), ["data.crop_size=96", "data.load_size=100",
                                                 "generator.num_downs=6"]))


def test_toml_and_json_files(tmp_path):
    (tmp_path / "c.toml").write_text('steps = 5\n[generator]\nngf = 16\n[loss]\nobjective = "l1"\n')
    c = load_config(tmp_path / "c.toml")
    assert (c.steps, c.generator.ngf, c.loss.objective) == (5, 16, "l1")
    (tmp_path / "c.json").write_text(json.dumps({"discriminator": {"arch": "patch16"}, "seed": 3}))
    c = load_config(tmp_path / "c.json")
    assert (c.discriminator.arch, c.seed) == ("patch16", 3)
    # a saved config reads back to the same config
    (tmp_path / "saved.json").write_text(json.dumps(c.to_dict()))
    assert load_config(tmp_path / "saved.json") == c
    (tmp_path / "bad.toml").write_text("[generator]\nwidth = 3\n")
    with pytest.raises(InputError, match="bad.toml.*generator.width"):
        load_config(tmp_path / "bad.toml")


def run_cli(args, capsys):
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def test_describe_default_is_the_paper(capsys):
    rc, out, err = run_cli(["train", "pix2pix", "--describe"], capsys)
    assert rc == 0, err
    d = json.loads(out)
    assert d["generator"]["parameters"] == 54_413_955 and d["generator"]["num_downs"] == 8
    assert d["discriminator"]["parameters"] == 2_768_705
    assert d["discriminator"]["receptive_field"] == [70, 70] and d["discriminator"]["output_map"] == [30, 30]
    assert d["discriminator"]["input_channels"] == 6 and d["discriminator"]["conditional"] is True
    # 8 stride-2 4x4 convs: 1 + 3 * (1 + 2 + ... + 128) input pixels per bottleneck unit
    assert d["generator"]["bottleneck_receptive_field"] == [1 + 3 * (2 ** 8 - 1)] * 2
    assert d["generator"]["output_map"] == [256, 256] and d["generator"]["bottleneck"] == [1, 1]


@pytest.mark.parametrize("sets,params,field,objective_has_d", [
    (["discriminator.arch=patch16"], 139_585, 16, True),
    (["discriminator.arch=patch286"], 11_159_361, 286, True),
    (["discriminator.arch=pixel"], 9_024, 1, True),
    (["loss.objective=l1+gan"], 2_768_705 - 3 * 16 * 64, 70, True),  # D sees 3 channels, not 6
    (["loss.objective=l1"], None, None, False)])
def test_describe_variants(capsys, sets, params, field, objective_has_d):
    args = ["train", "pix2pix", "--describe"] + [a for s in sets for a in ("--set", s)]
    rc, out, err = run_cli(args, capsys)
    assert rc == 0, err
    d = json.loads(out)["discriminator"]
    if not objective_has_d:
        assert d is None
        return
    assert d["parameters"] == params and d["receptive_field"] == [field, field]


@pytest.mark.parametrize("args,msg", [
    (["--describe", "--set", "generator.ngf=abc"], "generator.ngf: expected int"),
    (["--describe", "--set", "bogus=1"], "unknown config key 'bogus'"),
    (["--describe", "--config", "/nonexistent/c.toml"], "/nonexistent/c.toml: no such config file"),
    (["--describe", "--set", "discriminator.arch=patch286", "--set", "data.crop_size=64",
      "--set", "data.load_size=72"], "discriminator patch286"),
    (["--out", "/tmp/x"], "--data DIR is required")])
def test_cli_errors_are_one_line(args, msg):
    p = subprocess.run([sys.executable, "-m", "p2peval", "train", "pix2pix", *args], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("p2peval: error: ") and msg in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
