# Modeled on binarized_modules.py of BinaryNet.pytorch (Hubara et al., "Binarized Neural
# Networks"): weights binarized by sign through `.data` assignment (the full-precision copy kept
# in `weight.org`), so the forward uses sign(weight) while the gradient reaches the weight
# unchanged (straight through), and a Hardtanh activation. Rewritten for the diffcheck corpus;
# not a verbatim copy.
import torch
import torch.nn as nn


def Binarize(tensor, quant_mode='det'):
    if quant_mode == 'det':
        return tensor.sign()
    return tensor.add_(1).div_(2).add_(torch.rand(tensor.size()).add(-0.5)).clamp_(0, 1).round().mul_(2).add_(-1)


class BinarizeLinear(nn.Linear):
    def __init__(self, *kargs, **kwargs):
        super(BinarizeLinear, self).__init__(*kargs, **kwargs)

    def forward(self, input):
        if not hasattr(self.weight, 'org'):
            self.weight.org = self.weight.data.clone()
        self.weight.data = Binarize(self.weight.org)
        out = nn.functional.linear(input, self.weight)
        if self.bias is not None:
            out += self.bias.view(1, -1).expand_as(out)
        return out


class BinaryMLP(nn.Module):
    def __init__(self, d_in: int = 4, hidden: int = 3, d_out: int = 2):
        super().__init__()
        self.fc1 = BinarizeLinear(d_in, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.htanh1 = nn.Hardtanh()
        self.fc2 = BinarizeLinear(hidden, d_out)

    def forward(self, x):
        return self.fc2(self.htanh1(self.bn1(self.fc1(x))))
