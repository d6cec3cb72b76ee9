"""Pictures shared by the training examples (matplotlib, drawn off-screen)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_training_curves(solver, path):
    """Write the loss per iteration and train/val accuracy per epoch of a trained Solver."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7))
    top.plot(solver.loss_history, ".", markersize=3)
    top.set(title="Training loss", xlabel="iteration", ylabel="loss")
    bottom.plot(solver.train_acc_history, "-o", label="train")
    bottom.plot(solver.val_acc_history, "-o", label="val")
    bottom.set(title="Accuracy", xlabel="epoch", ylabel="accuracy")
    bottom.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def save_image(image, path, title, size=(5, 5)):
    """Write one grayscale image with a title and no axes."""
    figure, axis = plt.subplots(figsize=size)
    axis.imshow(image, cmap="gray", interpolation="nearest")
    axis.set_title(title)
    axis.axis("off")
    figure.savefig(path, dpi=80)
    plt.close(figure)
