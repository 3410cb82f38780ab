"""int8 inference on CPU: the encoder's linear layers with 8-bit weights and 8-bit activations.

Plain dynamic quantisation (torch's ``quantize_dynamic``: every linear layer, one scale per
activation tensor) was fast but moved Tatoeba retrieval by more than a point (deu-eng), far from
faithful: a few input channels of each layer carry values a hundred times larger
than the rest, and one scale for all of them leaves the others a handful of levels. SmoothQuant (Xiao
et al., 2023) moves that range from the activations into the weights: each input channel ``j`` of a
layer is divided by ``s_j = max|x_j|^a / max|W_j|^(1-a)`` and the weight column multiplied by it, which
changes nothing in exact arithmetic and evens out what int8 has to represent. The activation maxima
come from :data:`CALIBRATION` (the product's own sample sentences, eight languages, shipped with the
package) so that the quantised model, and its vectors, are the same on every run and machine type.
``bench/encode.py`` measures speed and faithfulness (``bench/results/encode.md``).
"""

from __future__ import annotations

from pathlib import Path

import torch  # this module is imported only where the network loads (torch is loaded there anyway)

#: Texts whose activations set the smoothing scales: the 384 sentences of assets/sample_parallel.csv
CALIBRATION = Path(__file__).with_name("calibration.txt")
#: How much of each channel's range moves into the weights (0: none, 1: all): 0.5 to 0.9 were tried on
#: deu-eng Tatoeba against fp32; 0.7 came closest.
ALPHA = 0.7


def int8_problem() -> str | None:
    """Why int8 cannot run with this torch (None: it can). ``torch._int_mm`` (an int8 x int8 -> int32 matrix
    product) is private, with no public equivalent in torch 2.x: an upgrade that drops it must fail loudly."""
    if not callable(getattr(torch, "_int_mm", None)):
        return f"this torch ({torch.__version__}) has no torch._int_mm, which int8 inference uses; choose fp32 or bf16"
    return None


def calibration_texts() -> list[str]:
    return [t for t in CALIBRATION.read_text(encoding="utf-8").splitlines() if t.strip()]


def quantize_int8(model, encode, alpha: float = ALPHA):
    """Replace the linear layers of ``model`` (a float32 torch module on the CPU) by smoothed :class:`Int8Linear`.

    ``encode(texts)`` runs the model on texts (the caller's own batching and prompt), once, to
    measure each linear layer's largest input per channel.
    """
    problem = int8_problem()
    if problem:
        raise RuntimeError(problem)
    largest: dict[torch.nn.Linear, torch.Tensor] = {}

    def record(layer, inputs, output) -> None:
        x = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(dim=0)
        largest[layer] = torch.maximum(largest[layer], x) if layer in largest else x

    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    hooks = [layer.register_forward_hook(record) for layer in linears]
    try:
        encode(calibration_texts())
    finally:
        for hook in hooks:
            hook.remove()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear) and child in largest:
                weight = child.weight.detach().abs().amax(dim=0).clamp(min=1e-5)
                scale = (largest[child].clamp(min=1e-5) ** alpha / weight ** (1 - alpha)).clamp(min=1e-5)
                setattr(parent, name, Int8Linear(child, scale))
    return model


class Int8Linear(torch.nn.Module):
    """A linear layer in int8: weights per output channel, activations per token (so a text's vector never
    depends on the other texts of its batch), input channels smoothed by ``scale``; int32 accumulation."""

    def __init__(self, linear: torch.nn.Linear, scale: torch.Tensor) -> None:
        super().__init__()
        weight = linear.weight.detach().float() * scale  # (out, in): column j times scale j
        weight_scale = weight.abs().amax(dim=1).clamp(min=1e-8) / 127
        quantised = torch.round(weight / weight_scale[:, None]).to(torch.int8)
        self.register_buffer("weight_t", quantised.t().contiguous())  # (in, out), as _int_mm takes it
        self.register_buffer("weight_scale", weight_scale)
        self.register_buffer("inverse_scale", 1.0 / scale)
        bias = linear.bias.detach().float() if linear.bias is not None else torch.zeros(len(weight_scale))
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1]).float() * self.inverse_scale
        x_scale = x.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127
        quantised = torch.round(x / x_scale).to(torch.int8)
        y = torch._int_mm(quantised, self.weight_t).float() * (x_scale * self.weight_scale) + self.bias
        return y.reshape(*shape[:-1], -1)
