"""The bundled pix2pix trainer (Isola et al., CVPR 2017) with every ablation of the paper.

Library modules: ``config`` (typed dataclasses), ``networks`` (U-Net / encoder-decoder, PatchGAN
discriminators), ``losses`` (objectives), ``data`` (datasets), ``step`` (one training iteration),
``train`` and ``translate``. Thin commands on top: ``cli``, ``bench`` (and ``trainers.translate_cli``).
"""
