"""Which way is better for a metric, read from the words of its name."""
from __future__ import annotations

import re

from sweepsight.adapters.errors import SweepError

# Words of a metric name that say which way is better (matched from the last word back; a
# phrase is its singular words run together: bits_per_dim -> "bitperdim", top1 -> "top1").
MINIMIZE = {
    "loss", "error", "err", "mse", "rmse", "mae", "mape", "smape", "perplexity", "ppl", "nll",
    "regret", "time", "latency", "cost", "runtime", "duration", "logloss", "crossentropy",
    "wer", "cer", "fid", "energy", "memory", "kl", "kld", "bpd", "bpc", "bpb", "bitperdim",
    "bitperchar", "bitperbyte", "xent", "distance", "dist",
}
MAXIMIZE = {
    "acc", "accuracy", "f1", "auc", "auroc", "auprc", "score", "reward", "return",
    "precision", "recall", "r2", "bleu", "rouge", "map", "iou", "miou", "ndcg", "mrr", "top1",
    "top5", "hit", "throughput", "likelihood", "elbo", "psnr", "ssim", "dice",
}
# Words that, before a metric word, turn its direction round (neg_log_likelihood).
NEGATED = {"neg", "negative", "minus"}
# Words of a name: camelCase humps, runs of digits; "/", ".", "_", "-" and spaces separate.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def infer_direction(target: str, direction: str | None = None) -> tuple[str, str]:
    """``(direction, reason)``: given, else read from the metric's name (last matching word)."""
    if direction is not None:
        d = str(direction).strip().lower()
        d = {"max": "maximize", "min": "minimize", "maximise": "maximize",
             "minimise": "minimize"}.get(d, d)
        if d not in ("maximize", "minimize"):
            raise SweepError(f"unknown direction {direction!r}; pass --direction maximize or minimize.")
        return d, f"{d} (given)"
    spans = [m.span() for m in _WORD.finditer(target)]
    words = metric_words(target)
    for end in range(len(words), 0, -1):
        for start in range(max(0, end - 3), end):  # the longest phrase ending here first
            phrase = "".join(words[start:end])
            if phrase not in MINIMIZE and phrase not in MAXIMIZE:
                continue
            d = "minimize" if phrase in MINIMIZE else "maximize"
            said = target[spans[start][0]:spans[end - 1][1]]
            negated = NEGATED & set(words[:start])
            if negated:  # neg_log_likelihood, sklearn's neg_mean_squared_error
                d = "maximize" if d == "minimize" else "minimize"
                return d, f"{d} (the name contains {said!r}, negated by {min(negated)!r})"
            return d, f"{d} (the name contains {said!r})"
    return "maximize", ("maximize (assumed: the name says neither; pass --direction minimize "
                        "if lower is better)")


def metric_words(name: str) -> list[str]:
    """The lower-case, singular words of a metric name: ``valLosses/top1`` -> val, loss, top, 1."""
    return [_singular(w.lower()) for w in _WORD.findall(name)]


def _singular(word: str) -> str:
    if word.endswith("sses"):
        return word[:-2]  # losses
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]  # errors, rewards, bits, returns
    return word
