# Modeled on the PyTorch neural style transfer tutorial (pytorch/tutorials,
# advanced_source/neural_style_tutorial.py, BSD-3-Clause): a Gram-matrix style loss.
# Rewritten for the diffcheck corpus; not a verbatim copy.
import torch
import torch.nn.functional as F


def gram_matrix(input):
    a, b, c, d = input.size()  # a=batch size(=1), b=number of feature maps, (c,d)=dimensions of a feature map
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


def style_loss(input, target_feature):
    target = gram_matrix(target_feature).detach()
    G = gram_matrix(input)
    return F.mse_loss(G, target)
