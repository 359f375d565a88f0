"""FCN-8s topology (docs/reference.md section 1) and the scorer registry.

Expected shapes are computed independently from Caffe's size rules (conv: n + 2p - k + 1; pooling
with ceil rounding: ceil((n - 2) / 2) + 1; deconvolution: (n - 1) * s + k; crop keeps the
reference blob's size) and checked against the numbers docs/reference.md states for 256x256.
"""

from __future__ import annotations

import math

import pytest
import torch

from p2peval.core.errors import ConfigError
from p2peval.scorers.fcn8s import FCN8s, FCN8sConfig
from p2peval.scorers.registry import ARCHS, build_scorer

TINY = FCN8sConfig(widths=(4, 8, 16, 32, 32), fc_width=64, num_outputs=20)


def caffe_shapes(h: int, w: int) -> dict[str, tuple[int, int]]:
    """Spatial blob sizes of the reference deploy net, from Caffe's rules."""
    def conv(n, k, p):
        return n + 2 * p - k + 1

    def pool(n):  # Caffe MAX pooling k2 s2, rounding up
        return int(math.ceil((n - 2) / 2)) + 1

    def deconv(n, k, s):
        return (n - 1) * s + k

    out: dict[str, tuple[int, int]] = {}
    size = [h, w]
    for block, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)):
        for i in range(1, n + 1):
            size = [conv(v, 3, 100 if (block, i) == (1, 1) else 1) for v in size]
            out[f"conv{block}_{i}"] = tuple(size)
        size = [pool(v) for v in size]
        out[f"pool{block}"] = tuple(size)
    size = [conv(v, 7, 0) for v in size]
    out["fc6_cs"] = out["fc7_cs"] = out["score_fr"] = tuple(size)
    out["upscore2"] = tuple(deconv(v, 4, 2) for v in size)
    out["score_pool4c"] = out["fuse_pool4"] = out["upscore2"]
    out["upscore_pool4"] = tuple(deconv(v, 4, 2) for v in out["fuse_pool4"])
    out["score_pool3c"] = out["fuse_pool3"] = out["upscore_pool4"]
    out["upscore8"] = tuple(deconv(v, 16, 8) for v in out["fuse_pool3"])
    out["score"] = (h, w)
    return out


def test_caffe_shape_rules_match_reference_numbers():
    # The numbers docs/reference.md and the Caffe fixture README give for 256x256 and 192x320.
    s = caffe_shapes(256, 256)
    assert s["conv1_1"] == (454, 454)
    assert [s[f"pool{i}"][0] for i in range(1, 6)] == [227, 114, 57, 29, 15]
    assert s["score_fr"] == (9, 9) and s["upscore2"] == (20, 20)
    assert s["upscore_pool4"] == (42, 42) and s["upscore8"] == (344, 344)
    t = caffe_shapes(192, 320)
    assert t["pool5"] == (13, 17) and t["score_fr"] == (7, 11)
    assert t["upscore_pool4"] == (34, 50) and t["upscore8"] == (280, 408)


@pytest.mark.parametrize("config", [FCN8sConfig(), TINY], ids=["full", "tiny"])
def test_blob_shapes_256(config):
    torch.manual_seed(0)
    model = FCN8s(config).eval()
    with torch.no_grad():
        blobs = model.forward_blobs(torch.randn(1, 3, 256, 256))
        out = model(torch.randn(2, 3, 256, 256))
    expected = caffe_shapes(256, 256)
    assert set(expected) <= set(blobs)
    for name, hw in expected.items():
        assert tuple(blobs[name].shape[-2:]) == hw, name
    # Ceil-mode pooling: floor rounding would give 113 for pool2.
    assert blobs["pool2"].shape[-1] == 114
    assert blobs["score"].shape == (1, 20, 256, 256)
    assert out.shape == (2, 20, 256, 256)
    # Channel counts follow the configured widths.
    for (block, n), width in zip(((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)), config.widths):
        assert blobs[f"conv{block}_{n}"].shape[1] == width
    assert blobs["fc7_cs"].shape[1] == config.fc_width


def test_forward_equals_score_blob():
    torch.manual_seed(1)
    model = FCN8s(TINY).eval()
    x = torch.randn(1, 3, 96, 160) * 50
    with torch.no_grad():
        a = model(x)
        b = model.forward_blobs(x)["score"]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_crop_offsets_follow_reference():
    """score_pool4c, score_pool3c and score are crops at offsets 5, 9 and 31."""
    torch.manual_seed(2)
    model = FCN8s(TINY).eval()
    x = torch.randn(1, 3, 64, 96) * 50
    with torch.no_grad():
        b = model.forward_blobs(x)
        sp4 = model.score_pool4(b["pool4"])
        sp3 = model.score_pool3(b["pool3"])
    h, w = b["upscore2"].shape[-2:]
    torch.testing.assert_close(b["score_pool4c"], sp4[:, :, 5:5 + h, 5:5 + w], rtol=0, atol=0)
    h, w = b["upscore_pool4"].shape[-2:]
    torch.testing.assert_close(b["score_pool3c"], sp3[:, :, 9:9 + h, 9:9 + w], rtol=0, atol=0)
    torch.testing.assert_close(b["score"], b["upscore8"][:, :, 31:31 + 64, 31:31 + 96], rtol=0, atol=0)
    torch.testing.assert_close(b["fuse_pool3"], b["upscore_pool4"] + b["score_pool3c"])


def test_shapes_1024x2048():
    """The topology is width-independent: check the protocol's full label size with tiny widths."""
    model = FCN8s(TINY).eval()
    with torch.no_grad():
        blobs = model.forward_blobs(torch.zeros(1, 3, 1024, 2048))
    for name, hw in caffe_shapes(1024, 2048).items():
        assert tuple(blobs[name].shape[-2:]) == hw, name
    assert blobs["score"].shape == (1, 20, 1024, 2048)
    assert tuple(blobs["pool5"].shape[-2:]) == (39, 71)  # ceil((1224-2)/2)+1 chain


def _fcn8s_param_count(widths, fc, k):
    n, c_in = 0, 3
    for (block, convs), width in zip(((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)), widths):
        for _ in range(convs):
            n += c_in * width * 9 + width
            c_in = width
    n += widths[4] * fc * 49 + fc            # fc6_cs
    n += fc * fc + fc                        # fc7_cs
    n += fc * k + k                          # score_fr
    n += widths[3] * k + k + widths[2] * k + k  # score_pool4, score_pool3
    n += k * k * 16 * 2 + k * k * 256        # upscore2, upscore_pool4, upscore8 (no bias)
    return n


def test_parameter_count_full_width():
    model = FCN8s(FCN8sConfig())
    count = sum(p.numel() for p in model.parameters())
    assert count == _fcn8s_param_count((64, 128, 256, 512, 512), 4096, 20)
    assert abs(count - 134.5e6) < 0.1e6  # "about 134.5 M" (docs/reference.md)
    # Parameter names are the Caffe layer names.
    names = {n.rsplit(".", 1)[0] for n, _ in model.named_parameters()}
    assert {"conv1_1", "conv5_3", "fc6_cs", "fc7_cs", "score_fr", "upscore2", "score_pool4",
            "upscore_pool4", "score_pool3", "upscore8"} <= names
    assert model.upscore8.bias is None and model.conv1_1.padding == (100, 100)


def test_registry_refuses_unknown_with_valid_names():
    with pytest.raises(ConfigError) as e:
        build_scorer("fcn9s")
    msg = str(e.value)
    assert "fcn9s" in msg
    for name in ("fcn8s", "fcn8s-tiny", "unet-resnet34", "deeplabv3plus-resnet50"):
        assert name in msg


def test_registry_fcn8s_widths_configurable():
    model, cfg = build_scorer("fcn8s-tiny")
    assert cfg["widths"] == [4, 8, 16, 32, 32]
    assert model.conv3_1.out_channels == 16
    model, cfg = build_scorer("fcn8s", {"widths": [8, 8, 8, 8, 8], "fc_width": 16})
    assert model.fc7_cs.out_channels == 16 and model.conv1_1.out_channels == 8


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Every way out to the network raises, and is recorded (in case a library swallows the error).

    torch.hub and huggingface_hub bind their HTTP clients at import time, so patching those names
    guards nothing; every client ends in ``socket.getaddrinfo`` and ``socket.socket.connect``.
    The download caches point at empty folders, so weights already on disk cannot hide a download.
    """
    import socket

    attempts: list[str] = []

    def refuse(what):
        def blocked(*args, **kwargs):
            attempts.append(f"{what}{args[1:] if what.startswith('socket.connect') else args}")
            raise OSError(f"network access attempted: {what}")
        return blocked

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    for var in ("TORCH_HOME", "HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "cache" / var))
    yield attempts
    assert not attempts, f"network access attempted: {attempts}"


def test_network_guard_blocks_downloads(no_network):
    """The guard itself: an HTTP download through torch.hub fails and is recorded."""
    with pytest.raises(OSError, match="network access attempted"):
        torch.hub.load_state_dict_from_url("https://download.pytorch.org/models/resnet18-f37072fd.pth")
    assert any("download.pytorch.org" in a for a in no_network)
    no_network.clear()  # expected here; the fixture fails any other test that records one


@pytest.mark.parametrize("arch", ["unet-resnet18", "unet-resnet34", "deeplabv3plus-resnet50"])
def test_smp_archs_build_offline(arch, no_network):
    torch.manual_seed(0)
    model, cfg = build_scorer(arch)
    assert ARCHS.get(arch).size_multiple == 32
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 19, 64, 96)
