"""The deep autoencoder of Hinton & Salakhutdinov (2006), unrolled from pre-trained RBMs.

Encoder 784-1000-500-250-30 and its mirror image as decoder. Logistic units everywhere
except the 30-unit code layer, which is linear; the output layer is logistic. The decoder
starts as the transposed encoder weights with the RBMs' visible biases, then is trained
untied (paper, section 1.2, fig. 1).
"""

from __future__ import annotations

import torch
from torch import nn

from adamix.train.rbm import RBM


def unroll(rbms: list[RBM]) -> nn.Sequential:
    """Stack the RBMs (bottom first) into the encoder, then their transposes into the decoder."""
    layers: list[nn.Module] = []
    for k, rbm in enumerate(rbms):
        layers.append(_linear(rbm["W"].T, rbm["hbias"]))
        if k < len(rbms) - 1:  # the code layer is linear
            layers.append(nn.Sigmoid())
    for rbm in reversed(rbms):
        layers.append(_linear(rbm["W"], rbm["vbias"]))
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def weights_and_biases(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """The two parameter groups that the learning-rate rules are routed to."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return [m.weight for m in linears], [m.bias for m in linears]


def _linear(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    out_features, in_features = weight.shape
    layer = nn.Linear(in_features, out_features)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


@torch.inference_mode()
def reconstruction_error(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 10000) -> float:
    """RER on the paper's scale: squared error summed over pixels, averaged over images.

    The paper's eq. 8-9 define RER as a per-pixel mean squared error, but the values it
    reports (8.37, 51.40, 3.56 ...) only fit Hinton & Salakhutdinov's convention: the
    per-image SUM of squared errors over the 784 pixels, averaged over images."""
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size]
        total += (model(xb) - xb).square_().sum(dtype=torch.float64)
    return total.item() / x.shape[0]
