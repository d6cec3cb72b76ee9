"""The notebook's aside, "image processing via convolutions", on two real photographs.

A grayscale filter and a horizontal-edge filter are set up by hand as conv weights and applied
with `conv_forward_naive` to two photos that ship inside scikit-image (Chelsea the cat, wide
like the notebook's kitten, and the square astronaut portrait), centre-cropped and resized as
the notebook does; the originals and results are written as a 2x3 PNG panel.

    python examples/image_filters.py [--quick] [--out DIR] [--images WIDE.jpg SQUARE.jpg]
"""
import argparse
import os

import numpy as np

from vjpnet.layers import conv_forward_naive


def load_photos(paths):
    """Two RGB uint8 images (H, W, 3): the user's files, or scikit-image's bundled photos."""
    if paths:
        import matplotlib.image

        images = [matplotlib.image.imread(path) for path in paths]
        images = [(image * 255).astype(np.uint8) if image.dtype.kind == "f" else image
                  for image in images]
        return [image[..., :3] if image.ndim == 3 else np.stack([image] * 3, axis=-1)
                for image in images]
    from skimage import data

    return [data.chelsea(), data.astronaut()]


def centre_square(image):
    """Crop the longer side so the image is square, keeping the centre."""
    height, width = image.shape[:2]
    d = abs(width - height)
    if width > height:
        return image[:, d // 2: d // 2 + height]
    return image[d // 2: d // 2 + width, :]


def resize(image, size):
    from skimage.transform import resize as skimage_resize

    return skimage_resize(image, (size, size), preserve_range=True, anti_aliasing=True)


def filters():
    """Weights (2, 3, 3, 3) and biases (2,): grayscale, and horizontal edges in blue."""
    w = np.zeros((2, 3, 3, 3))
    w[0, 0, :, :] = [[0, 0, 0], [0, 0.3, 0], [0, 0, 0]]
    w[0, 1, :, :] = [[0, 0, 0], [0, 0.6, 0], [0, 0, 0]]
    w[0, 2, :, :] = [[0, 0, 0], [0, 0.1, 0], [0, 0, 0]]
    w[1, 2, :, :] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    b = np.array([0, 128.0])   # +128 keeps the edge responses positive
    return w, b


def imshow_noax(axis, image, normalize=True):
    if normalize:
        low, high = np.min(image), np.max(image)
        image = 255.0 * (image - low) / (high - low)
    axis.imshow(image.astype("uint8"), cmap="gray", interpolation="nearest")
    axis.axis("off")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64x64 images instead of 200x200")
    parser.add_argument("--out", default="vjpnet_out",
                        help="folder for the PNG (default: %(default)s)")
    parser.add_argument("--images", nargs=2, metavar="PATH", help="two images of your own")
    args = parser.parse_args()

    img_size = 64 if args.quick else 200
    photos = [centre_square(photo) for photo in load_photos(args.images)]
    x = np.zeros((2, 3, img_size, img_size))
    for i, photo in enumerate(photos):
        x[i] = resize(photo, img_size).transpose((2, 0, 1))
    w, b = filters()
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(9, 6))
    for row, photo in enumerate(photos):
        imshow_noax(axes[row, 0], photo, normalize=False)
        imshow_noax(axes[row, 1], out[row, 0])
        imshow_noax(axes[row, 2], out[row, 1])
    for axis, title in zip(axes[0], ("Original image", "Grayscale", "Edges")):
        axis.set_title(title)
    figure.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "image_filters.png")
    figure.savefig(path, dpi=80)
    plt.close(figure)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
