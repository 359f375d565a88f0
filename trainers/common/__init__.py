"""What the bundled trainers share: the PatchGAN with its receptive field and map size, weight
init, GAN losses, learning-rate schedules, typed configs with ``--set`` overrides, image sources
and tensors, checkpoint/resume with RNG state, the NaN/inf stop, DDP and precision, the loss log,
sample grids and the train-step benchmark harness.

``trainers.pix2pix`` and ``trainers.cyclegan`` import from here; nothing here imports them.
"""
