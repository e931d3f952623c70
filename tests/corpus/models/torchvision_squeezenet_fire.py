# Modeled on torchvision.models.squeezenet.Fire (pytorch/vision, BSD-3-Clause): a 1x1 squeeze
# conv + ReLU feeding a 1x1 and a 3x3 expand conv, each with its ReLU, concatenated on
# channels. Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn as nn


class Fire(nn.Module):
    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int,
                 expand3x3_planes: int) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = self.squeeze_activation(self.squeeze(x))
        branches = [
            self.expand1x1_activation(self.expand1x1(squeezed)),
            self.expand3x3_activation(self.expand3x3(squeezed)),
        ]
        return torch.cat(branches, 1)
