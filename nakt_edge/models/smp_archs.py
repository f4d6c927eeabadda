"""segmentation-models-pytorch architectures in the registry, offline, with a decoder width multiplier.

Encoders are built with ``encoder_weights=None``: nothing is downloaded. A local encoder weights
file (``kwargs["encoder_weights_file"]``, safetensors only) is loaded into ``model.encoder``.
Divisors were measured with torch 2.14 / smp 0.6 (ENVIRONMENT.md): FPN, Unet++, Segformer,
Linknet, MAnet, UPerNet need H and W divisible by 32, DeepLabV3+ by 16, Unet by nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from nakt_edge.errors import ModelSpecError
from nakt_edge.models.registry import ModelSpec, register_arch


def _scale(value: int, width: float) -> int:
    return max(4, int(round(value * width)))


def _width_kwargs(arch: str, width: float) -> dict[str, Any]:
    """Decoder-size kwargs of smp class ``arch`` scaled by ``width`` (empty at width 1)."""
    if width == 1.0:
        return {}
    if arch in ("Unet", "UnetPlusPlus", "MAnet"):
        return {"decoder_channels": [_scale(c, width) for c in (256, 128, 64, 32, 16)]}
    if arch == "FPN":
        return {"decoder_pyramid_channels": _scale(256, width), "decoder_segmentation_channels": _scale(128, width)}
    if arch in ("DeepLabV3Plus", "DeepLabV3", "UPerNet"):
        return {"decoder_channels": _scale(256, width)}
    if arch == "Segformer":
        return {"decoder_segmentation_channels": _scale(256, width)}
    if arch == "PSPNet":
        return {"psp_out_channels": _scale(512, width)}
    raise ModelSpecError(f"architecture '{arch}' has no decoder width to scale", hint="use --width 1")


def _load_encoder_weights(model: nn.Module, path: str) -> None:
    from safetensors.torch import load_file

    file = Path(path)
    if file.suffix != ".safetensors":
        raise ModelSpecError(
            "encoder weights must be a .safetensors file (pickled .pth files are never loaded)",
            hint="convert it once with safetensors.torch.save_file",
            path=file,
        )
    if not file.is_file():
        raise ModelSpecError("encoder weights file not found", hint="check the path", path=file)
    missing, unexpected = model.encoder.load_state_dict(load_file(str(file)), strict=False)
    if unexpected or len(missing) == len(list(model.encoder.state_dict())):
        raise ModelSpecError(
            f"encoder weights do not match the encoder ({len(unexpected)} unexpected, {len(missing)} missing keys)",
            hint="pass weights saved from the same smp encoder",
            path=file,
        )


def _smp_builder(smp_class: str) -> Callable[[ModelSpec], nn.Module]:
    def build(spec: ModelSpec) -> nn.Module:
        import segmentation_models_pytorch as smp

        kwargs = dict(spec.kwargs)
        weights_file = kwargs.pop("encoder_weights_file", None)
        kwargs = {**_width_kwargs(smp_class, spec.width), **kwargs}
        try:
            model = getattr(smp, smp_class)(
                encoder_name=spec.encoder, encoder_weights=None, in_channels=spec.in_channels, classes=1, **kwargs
            )
        except KeyError as error:
            raise ModelSpecError(
                f"unknown or unsupported smp encoder '{spec.encoder}' for {smp_class}",
                hint=f"see smp.encoders.get_encoder_names() ({str(error)[:80]}...)",
            ) from None
        if weights_file:
            _load_encoder_weights(model, weights_file)
        return model

    return build


# name, smp class, divisor, default encoder, description
_SMP_ARCHS = (
    ("smp_unet", "Unet", 1, "resnet18", "smp U-Net, any encoder"),
    ("unetplusplus", "UnetPlusPlus", 32, "resnet18", "smp U-Net++ (nested skips)"),
    ("fpn", "FPN", 32, "resnet18", "smp FPN: the semantic branch of Panoptic-FPN"),
    ("deeplabv3plus", "DeepLabV3Plus", 16, "resnet18", "smp DeepLabv3+ (ASPP + decoder)"),
    ("deeplabv3", "DeepLabV3", 8, "resnet18", "smp DeepLabv3 (ASPP)"),
    ("segformer", "Segformer", 32, "mit_b0", "smp Segformer (MiT encoder)"),
    ("linknet", "Linknet", 32, "resnet18", "smp LinkNet"),
    ("manet", "MAnet", 32, "resnet18", "smp MA-Net"),
    ("pspnet", "PSPNet", 8, "resnet18", "smp PSPNet"),
    ("upernet", "UPerNet", 32, "resnet18", "smp UPerNet"),
)

for _name, _class, _divisor, _encoder, _description in _SMP_ARCHS:
    register_arch(_name, divisor=_divisor, family="smp", description=_description, default_encoder=_encoder)(
        _smp_builder(_class)
    )
