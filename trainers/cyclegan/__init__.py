"""The bundled CycleGAN trainer (Zhu et al., ICCV 2017): unpaired translation between two domains.

Library modules: ``config`` (typed dataclasses), ``networks`` (ResNet generator, 70x70 PatchGAN on
one image), ``losses`` (LSGAN, cycle and identity terms), ``pool`` (the history of fakes each
discriminator sees), ``data`` (unpaired domains), ``step`` (one training iteration), ``train`` and
``translate``. Thin commands on top: ``cli``, ``bench``; ``describe`` says what a config builds.

    from trainers.cyclegan.config import CycleGANConfig, apply_overrides
    from trainers.cyclegan.train import train
    from trainers.cyclegan.translate import translate
"""
