from __future__ import annotations

import pytest
import torch

from nakt_edge.errors import InputError, ModelSpecError
from nakt_edge.models.registry import ModelSpec, build_model, get_arch, list_archs, parameter_count
from nakt_edge.training.train import check_size_for


def test_full_width_parameter_counts_match_the_published_ones() -> None:
    # ARCHITECTURES.md: SDU-Net ~15 M (44% of U-Net), Attention U-Net 34.87 M (3 input channels)
    assert parameter_count(ModelSpec("sdu_net", in_channels=3)) == pytest.approx(15.0e6, rel=0.05)
    assert parameter_count(ModelSpec("attention_unet", in_channels=3)) == pytest.approx(34.87e6, rel=0.05)
    assert parameter_count(ModelSpec("unet", in_channels=3)) == pytest.approx(34.5e6, rel=0.01)


def test_unknown_name_lists_valid_names_and_suggests_one() -> None:
    assert get_arch("DeepLabV3+").name == "deeplabv3plus" and get_arch("Unet++").name == "unetplusplus"
    with pytest.raises(ModelSpecError) as info:
        get_arch("deeplab3plus")
    text = str(info.value)
    assert "did you mean 'deeplabv3plus'" in text and "sdu_net" in text and info.value.exit_code == 2


def test_our_architectures_take_no_encoder() -> None:
    with pytest.raises(ModelSpecError, match="takes no encoder"):
        build_model(ModelSpec("sdu_net", encoder="resnet18"))


@pytest.mark.parametrize("arch", ["unet", "attention_unet", "sdu_net"])
def test_our_tiny_unets_give_one_logit_channel_at_any_multiple_of_16(arch: str) -> None:
    model = build_model(ModelSpec(arch, width=0.125)).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 48, 80)).shape == (2, 1, 48, 80)


def test_sdu_net_width_arguments() -> None:
    narrow = build_model(ModelSpec("sdu_net", kwargs={"widths": [16, 32, 64, 128, 256],
                                                       "decoder_widths": [64, 32, 16, 16],
                                                       "dilations": [2, 2, 2, 2, 2]}))
    with torch.no_grad():
        assert narrow(torch.zeros(1, 1, 32, 32)).shape == (1, 1, 32, 32)
    with pytest.raises(ModelSpecError, match="divisible by 16"):
        build_model(ModelSpec("sdu_net", kwargs={"widths": [8, 16, 32, 64, 128]}))


@pytest.mark.parametrize("arch", ["smp_unet", "fpn", "deeplabv3plus"])
def test_smp_architectures_build_offline_with_a_narrow_decoder(arch: str) -> None:
    model = build_model(ModelSpec(arch, encoder="resnet18", width=0.25)).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 64, 64)).shape == (1, 1, 64, 64)


def test_every_registered_arch_records_a_divisor_and_sizes_are_checked_against_it() -> None:
    assert {info.name: info.divisor for info in list_archs()}["fpn"] == 32
    check_size_for(ModelSpec("deeplabv3plus"), 48)
    with pytest.raises(InputError, match="--size 64"):
        check_size_for(ModelSpec("fpn"), 48)


def test_encoder_weights_must_be_safetensors(tmp_path) -> None:
    pickle = tmp_path / "w.pth"
    pickle.write_bytes(b"not loaded")
    with pytest.raises(ModelSpecError, match="safetensors"):
        build_model(ModelSpec("smp_unet", kwargs={"encoder_weights_file": str(pickle)}))
