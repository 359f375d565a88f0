"""The history of generated images each discriminator sees (reference ``util/image_pool.py``).

Until the pool holds ``capacity`` images, a query stores every new fake and returns it. Once full,
each new fake is, with probability 0.5, swapped for a stored one picked uniformly (the stored one
is returned, the new one takes its place), else returned as is. Training D on older fakes as well
as the latest ones reduces oscillation (Shrivastava et al. 2017). The pool's images and its random
state are part of a checkpoint, so a resumed run draws the same swaps.
"""

from __future__ import annotations

import random

import torch


class ImagePool:
    def __init__(self, capacity: int = 50, seed: int = 0):
        self.capacity = capacity
        self.images: list[torch.Tensor] = []   # each (C, H, W), detached
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) new fakes -> (B, C, H, W) fakes to show the discriminator (no gradient)."""
        if self.capacity == 0:
            return images.detach()
        out = []
        for image in images.detach():
            if len(self.images) < self.capacity:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.uniform(0, 1) > 0.5:
                i = self.rng.randint(0, self.capacity - 1)
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out, 0)

    def state_dict(self) -> dict:
        return {"capacity": self.capacity, "images": [t.cpu() for t in self.images],
                "rng": self.rng.getstate()}

    def load_state_dict(self, state: dict, device: torch.device | None = None) -> None:
        self.capacity = state["capacity"]
        self.images = [t.to(device) if device is not None else t for t in state["images"]]
        self.rng.setstate(state["rng"])
