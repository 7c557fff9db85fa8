import numpy as np
import pytest
from PIL import Image

from bpm_edit import images
from bpm_edit.errors import ConfigError
from bpm_edit.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    MAX_IMAGE_PIXELS_ENV,
    ImageError,
    align_pair,
    load_image,
    load_mask,
    max_image_pixels,
    rms_difference,
    set_max_image_pixels,
)


def test_modes_are_converted_explicitly(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # opaque red stays red
    rgba[0, 1] = [0, 0, 255, 0]  # fully transparent composites to white
    out = np.asarray(load_image(rgba))
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]

    sixteen = np.array([[0, 65535]], np.uint16)
    assert np.asarray(load_image(sixteen))[0, :, 0].tolist() == [0, 255]
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 65535]], np.uint16)).save(path)
    assert np.asarray(load_image(path))[0, :, 0].tolist() == [0, 255]

    grey = Image.fromarray(np.array([[7]], np.uint8), mode="L")
    assert np.asarray(load_image(grey)).tolist() == [[[7, 7, 7]]]
    assert np.asarray(load_image(np.array([[0.0, 1.0]])))[0, :, 0].tolist() == [0, 255]


def test_bad_images_give_clear_errors(tmp_path):
    with pytest.raises(ImageError, match="original: file not found"):
        load_image(tmp_path / "missing.png", name="original")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not an image")
    with pytest.raises(ImageError, match="cannot read .*corrupt.png"):
        load_image(corrupt)
    with pytest.raises(ImageError, match="zero size"):
        load_image(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((2, 2), np.nan))
    with pytest.raises(ImageError, match="expected a path"):
        load_image(42)  # type: ignore[arg-type]


def test_align_pair_resizes_only_when_needed():
    original = Image.new("RGB", (40, 20))
    same, resized = align_pair(original, Image.new("RGB", (40, 20)))
    assert not resized and same.size == (40, 20)
    other, resized = align_pair(original, Image.new("RGB", (80, 40)))
    assert resized and other.size == (40, 20)


def test_masks_must_match_the_image(tmp_path):
    path = tmp_path / "mask.png"
    Image.fromarray(np.array([[0, 255, 3]], np.uint8)).save(path)
    assert load_mask(path, (3, 1)).tolist() == [[False, True, True]]
    with pytest.raises(ImageError, match="mask is 3x1 but the image is 4x1"):
        load_mask(path, (4, 1))
    assert load_mask(None, (3, 1)) is None


def test_rms_difference_is_in_float_over_pixels_and_channels():
    black = Image.new("RGB", (2, 1), (0, 0, 0))
    half = Image.fromarray(np.array([[[255, 0, 0], [0, 0, 0]]], np.uint8))
    assert rms_difference(black, half) == pytest.approx((1 / 6) ** 0.5)
    assert rms_difference(half, black) == rms_difference(black, half)  # no uint8 wrap-around
    with pytest.raises(ValueError, match="equal sizes"):
        rms_difference(black, Image.new("RGB", (1, 1)))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A real decompression bomb: 30000x30000 pixels in a ~110 KB 1-bit PNG."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("1", (30000, 30000)).save(path, optimize=False)
    assert path.stat().st_size < 500_000
    return path


def test_a_decompression_bomb_is_an_image_error_naming_file_and_limit(bomb):
    for read in (lambda: load_image(bomb, "--original"),
                 lambda: load_mask(bomb, (5, 5), "--mask-original")):
        with pytest.raises(ImageError) as caught:
            read()
        message = str(caught.value)
        assert str(bomb) in message and f"limit of {DEFAULT_MAX_IMAGE_PIXELS} pixels" in message
        assert "--max-image-pixels" in message and MAX_IMAGE_PIXELS_ENV in message


def test_the_pixel_limit_is_set_by_function_or_environment(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (80, 80)).save(path)  # 6400 pixels: under twice PIL's own limit too
    monkeypatch.setattr(images, "_max_image_pixels", None)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "5000")
    with pytest.raises(ImageError, match=r"limit of 5000 pixels .*\(it is 80x80\)"):
        load_image(path, "--edited")
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "lots")
    with pytest.raises(ConfigError, match=f"{MAX_IMAGE_PIXELS_ENV} must be a positive integer"):
        load_image(path)
    set_max_image_pixels(6400)  # the setting wins over the environment
    assert load_image(path).size == (80, 80) and max_image_pixels() == 6400
    set_max_image_pixels(None)
    monkeypatch.delenv(MAX_IMAGE_PIXELS_ENV)
    assert max_image_pixels() == DEFAULT_MAX_IMAGE_PIXELS
    with pytest.raises(ConfigError, match="positive integer"):
        set_max_image_pixels(0)


def test_raising_the_limit_lets_a_large_image_through(tmp_path, monkeypatch):
    """Above twice PIL's own limit too (PIL's limit follows ours up)."""
    monkeypatch.setattr(images, "_max_image_pixels", None)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = tmp_path / "wide.png"
    Image.new("L", (100, 50)).save(path)  # 5000 pixels > 2 x 1000
    set_max_image_pixels(6000)
    assert load_image(path).size == (100, 50)
    assert load_mask(path, (100, 50)).shape == (50, 100)
