"""Seeded synthetic ultrasound-like phantoms with lesion masks, so the demo and tests run anywhere.

``breast``: linear-probe B-mode look: skin line, fat and glandular layers, spatially correlated
speckle, depth attenuation, 0-2 hypoechoic lesions with irregular (sometimes spiculated)
borders and posterior shadowing or enhancement. ``thyroid``: finer, more homogeneous
parenchyma inside a gland outline, nodules that are solid (with a dark halo) or cystic
(anechoic, posterior enhancement). ``natural``: not ultrasound at all: smooth gradients and
textures with blob objects, the paper's out-of-domain (PASCAL-like) transferal set.

Image ``i`` of a domain depends only on (seed, domain, i), so ``--n 10`` gives the first ten
images of ``--n 1000``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nakt_edge.errors import InputError
from nakt_edge.outputs import claim, guard_folder, write_csv, write_png
from nakt_edge.progress import Reporter

DOMAINS = ("breast", "thyroid", "natural")


@dataclass(frozen=True)
class Phantom:
    """One generated image (uint8, S x S), its lesion mask (uint8 0/255) and its lesion count."""

    image: np.ndarray
    mask: np.ndarray
    lesions: int


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise scaled to zero mean, unit std: a random smooth field."""
    field = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigma)
    return (field - field.mean()) / (field.std() + 1e-6)


def _speckle(rng: np.random.Generator, size: int, axial: float, lateral: float) -> np.ndarray:
    """Rayleigh-like speckle: magnitude of blurred complex noise, correlated more laterally."""
    real = rng.standard_normal((size, size)).astype(np.float32)
    imag = rng.standard_normal((size, size)).astype(np.float32)
    real = cv2.GaussianBlur(real, (0, 0), sigmaX=lateral, sigmaY=axial)
    imag = cv2.GaussianBlur(imag, (0, 0), sigmaX=lateral, sigmaY=axial)
    magnitude = np.sqrt(real**2 + imag**2)
    return magnitude / (magnitude.mean() + 1e-6)


def _blob(rng: np.random.Generator, size: int, center: tuple[float, float], radius: float, spiky: float) -> np.ndarray:
    """Boolean mask of a star-shaped region r(theta) = R (1 + sum a_k cos(k theta + phi_k))."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - center[0], xx - center[1]
    theta = np.arctan2(dy, dx)
    stretch = rng.uniform(0.6, 1.0)
    angle = rng.uniform(0, np.pi)
    rot_x = dx * np.cos(angle) + dy * np.sin(angle)
    rot_y = (-dx * np.sin(angle) + dy * np.cos(angle)) / stretch
    dist = np.sqrt(rot_x**2 + rot_y**2)
    boundary = np.ones_like(theta)
    for k in range(2, 7):
        boundary += rng.uniform(0, 0.12 / k * 2) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    if spiky > 0:
        for k in (9, 13, 17):
            boundary += rng.uniform(0, spiky) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return dist <= radius * boundary


def _place_lesions(
    rng: np.random.Generator, size: int, count: int, radius_range: tuple[float, float], spiky: float,
    depth_range: tuple[float, float] = (0.3, 0.75),
) -> list[np.ndarray]:
    lesions = []
    for _ in range(count):
        radius = rng.uniform(*radius_range) * size
        center = (rng.uniform(*depth_range) * size, rng.uniform(0.25, 0.75) * size)
        lesions.append(_blob(rng, size, center, radius, spiky * rng.random()))
    return lesions


def _posterior(lesion: np.ndarray, strength: float) -> np.ndarray:
    """Multiplicative field below a lesion: < 1 for shadowing, > 1 for enhancement."""
    columns = lesion.any(axis=0).astype(np.float32)
    below = np.maximum.accumulate(lesion, axis=0) & ~lesion
    field = below * columns[None, :]
    depth = np.cumsum(below, axis=0).astype(np.float32)
    fade = np.exp(-depth / (0.5 * lesion.shape[0]))
    field = cv2.GaussianBlur(field * fade, (0, 0), 2.0)
    return 1.0 + strength * field


def _fov_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Field of view of a linear probe: a rectangle or a slight trapezoid below a dark top margin."""
    top = int(rng.uniform(0.02, 0.08) * size)
    inset = rng.uniform(0.0, 0.12) * size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    spread = inset * (1 - (yy - top) / max(1, size - top))
    return (yy >= top) & (xx >= spread) & (xx <= size - 1 - spread)


def _to_bmode(echo: np.ndarray, fov: np.ndarray, rng: np.random.Generator, gain: float) -> np.ndarray:
    """Log-compress an echo-amplitude map into an 8-bit B-mode image, black outside the FOV."""
    size = echo.shape[0]
    depth = np.linspace(0, 1, size, dtype=np.float32)[:, None]
    attenuation = np.exp(-rng.uniform(0.6, 1.6) * depth) * (1 + rng.uniform(0.2, 0.7) * depth)
    amplitude = echo * attenuation
    bmode = np.log1p(gain * amplitude) / np.log1p(gain * 3.0)
    return (np.clip(bmode, 0, 1) * 255 * fov).astype(np.uint8)


def _breast(rng: np.random.Generator, size: int) -> Phantom:
    depth = np.linspace(0, 1, size, dtype=np.float32)[:, None]
    skin = rng.uniform(0.04, 0.08)
    fat = skin + rng.uniform(0.1, 0.25)
    muscle = rng.uniform(0.8, 0.95)
    tissue = np.where(depth < skin, 1.6, np.where(depth < fat, 0.45, np.where(depth < muscle, 0.95, 0.7)))
    tissue = tissue * np.ones((1, size), np.float32)
    tissue = cv2.GaussianBlur(tissue.astype(np.float32), (0, 0), 2.0)
    tissue *= np.exp(0.35 * _smooth_noise(rng, size, size / 12))
    count = int(rng.choice([0, 1, 1, 1, 2], p=[0.15, 0.25, 0.25, 0.2, 0.15]))
    lesions = _place_lesions(rng, size, count, (0.06, 0.16), spiky=0.08)
    mask = np.zeros((size, size), bool)
    for lesion in lesions:
        darkness = rng.uniform(0.08, 0.3)
        soft_edge = cv2.GaussianBlur(lesion.astype(np.float32), (0, 0), rng.uniform(0.8, 2.0))
        tissue = tissue * (1 - soft_edge) + darkness * soft_edge * (1 + 0.3 * _smooth_noise(rng, size, 3))
        tissue *= _posterior(lesion, rng.choice([-0.5, 0.6]) * rng.uniform(0.5, 1.0))
        mask |= lesion
    fov = _fov_mask(rng, size)
    echo = np.clip(tissue, 0.02, None) * _speckle(rng, size, axial=0.7, lateral=1.6)
    return Phantom(_to_bmode(echo, fov, rng, gain=rng.uniform(6, 12)), (mask & fov).astype(np.uint8) * 255, count)


def _thyroid(rng: np.random.Generator, size: int) -> Phantom:
    """Transverse neck view: skin, fat, hypoechoic strap muscles, the gland, sometimes the carotid."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    skin = rng.uniform(0.03, 0.06)
    muscle_top = skin + rng.uniform(0.05, 0.1)
    gland_top = muscle_top + rng.uniform(0.08, 0.15)
    tissue = np.where(yy < skin, 1.5, np.where(yy < muscle_top, 0.7, np.where(yy < gland_top, 0.4, 0.6)))
    tissue = tissue * (1 + 0.25 * np.sin(2 * np.pi * yy * size / rng.uniform(3, 6)) * (yy >= muscle_top)
                       * (yy < gland_top))  # muscle striations
    centre_y = gland_top + rng.uniform(0.18, 0.25)
    gland = ((xx - 0.5) / rng.uniform(0.35, 0.48)) ** 2 + ((yy - centre_y) / (centre_y - gland_top)) ** 2 <= 1
    tissue = np.where(gland, 1.1, tissue).astype(np.float32)
    if rng.random() < 0.5:  # carotid artery beside the gland: anechoic, posterior enhancement
        side = rng.choice([0.12, 0.88])
        carotid = (xx - side) ** 2 + (yy - centre_y) ** 2 <= rng.uniform(0.05, 0.08) ** 2
        tissue = np.where(carotid, 0.03, tissue) * _posterior(carotid, 0.5)
    tissue = cv2.GaussianBlur(tissue, (0, 0), 1.5) * np.exp(0.15 * _smooth_noise(rng, size, size / 20))
    count = int(rng.choice([0, 1, 2], p=[0.2, 0.6, 0.2]))
    lesions = _place_lesions(rng, size, count, (0.06, 0.13), spiky=0.03, depth_range=(centre_y - 0.08,
                                                                                      centre_y + 0.08))
    mask = np.zeros((size, size), bool)
    for lesion in lesions:
        inner = cv2.GaussianBlur(lesion.astype(np.float32), (0, 0), 1.0)
        if rng.random() < 0.4:  # cyst: anechoic, posterior enhancement
            tissue = tissue * (1 - inner) + 0.04 * inner
            tissue *= _posterior(lesion, 0.7)
        else:  # solid nodule: hypo- to isoechoic core, dark halo
            halo = cv2.dilate(lesion.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~lesion
            tissue = tissue * (1 - inner) + rng.uniform(0.3, 0.8) * inner
            tissue[halo] *= 0.25
        mask |= lesion
    fov = _fov_mask(rng, size)
    echo = np.clip(tissue, 0.02, None) * _speckle(rng, size, axial=0.5, lateral=0.9)
    return Phantom(_to_bmode(echo, fov, rng, gain=rng.uniform(8, 14)), (mask & fov).astype(np.uint8) * 255, count)


def _natural(rng: np.random.Generator, size: int) -> Phantom:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    background = 0.5 + 0.3 * (np.cos(angle) * xx + np.sin(angle) * yy - 0.5)
    background += 0.12 * _smooth_noise(rng, size, size / rng.uniform(4, 16))
    if rng.random() < 0.5:
        background += 0.08 * np.sin(2 * np.pi * rng.uniform(4, 12) * (xx * np.cos(angle) - yy * np.sin(angle)))
    count = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    lesions = _place_lesions(rng, size, count, (0.07, 0.2), spiky=0.05, depth_range=(0.2, 0.8))
    image = background
    mask = np.zeros((size, size), bool)
    for blob in lesions:
        level = rng.choice([rng.uniform(0.0, 0.25), rng.uniform(0.75, 1.0)])
        texture = 0.08 * _smooth_noise(rng, size, rng.uniform(1, 4))
        soft_edge = cv2.GaussianBlur(blob.astype(np.float32), (0, 0), 1.0)
        image = image * (1 - soft_edge) + (level + texture) * soft_edge
        mask |= blob
    image = image + rng.uniform(0.01, 0.05) * rng.standard_normal((size, size)).astype(np.float32)
    return Phantom((np.clip(image, 0, 1) * 255).astype(np.uint8), mask.astype(np.uint8) * 255, count)


_GENERATORS = {"breast": _breast, "thyroid": _thyroid, "natural": _natural}


def make_phantom(domain: str, size: int, seed: int, index: int) -> Phantom:
    """Generate image ``index`` of ``domain`` at ``size`` x ``size`` from ``seed``."""
    if domain not in _GENERATORS:
        raise ValueError(f"unknown phantom domain '{domain}'; valid: {', '.join(DOMAINS)}")
    rng = np.random.default_rng([seed, DOMAINS.index(domain), index])
    return _GENERATORS[domain](rng, size)


PHANTOM_OUTPUTS = ("images", "masks", "manifest.csv")


def write_phantom_set(
    out: str | Path, n: int, domain: str = "breast", size: int = 256, seed: int = 0, *, force: bool = False,
    reporter: Reporter | None = None,
) -> Path:
    """Write ``n`` phantoms as ``out/images/<domain>_<i>.png``, ``out/masks/...`` and ``out/manifest.csv``.

    Returns the manifest path. Raises InputError for a bad domain, count or size, and
    OutputExistsError when ``out`` already holds a phantom set (unless ``force``).
    """
    if domain not in DOMAINS:
        raise InputError(f"unknown domain '{domain}'", hint=f"use one of {', '.join(DOMAINS)}")
    if n < 1 or size < 16:
        raise InputError(f"need n >= 1 and size >= 16 (got n={n}, size={size})", hint="raise --n or --size")
    with claim(out):
        out = guard_folder(out, force, PHANTOM_OUTPUTS)
        reporter = reporter or Reporter()
        reporter.start("phantoms", f"{domain} phantoms", n)
        rows = []
        for index in range(n):
            phantom = make_phantom(domain, size, seed, index)
            name = f"{domain}_{index:05d}.png"
            write_png(out / "images" / name, phantom.image)
            write_png(out / "masks" / name, phantom.mask)
            rows.append({"file": name, "domain": domain, "lesions": phantom.lesions,
                         "mask_pixels": int((phantom.mask > 0).sum()), "group": Path(name).stem, "seed": seed})
            reporter.advance("phantoms")
        reporter.finish("phantoms")
        return write_csv(out / "manifest.csv", rows)
