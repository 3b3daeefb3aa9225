"""Screen: frozen EfficientNet-Lite0 taps + colour stats, logistic regression, grouped CV."""
import json, sys, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
sys.path.insert(0, "/work/main")
from model.cover_net import CoverNet
from model.cover_spec import CoverSpec, preprocess
from training.covers import load_splits, group_folds
from training.cover_anchor import fit_logreg

torch.set_num_threads(2)
OUT = Path("/work/main/runs/cover-screen")
STAGE_ENDS = {0, 2, 4, 7, 10, 14, 15}

def colour_stats(img):
    hsv = np.asarray(img.convert("RGB").resize((128, 128)).convert("HSV"), np.float32) / 255
    h, s, v = hsv[..., 0].ravel(), hsv[..., 1].ravel(), hsv[..., 2].ravel()
    hue = np.histogram(h, 12, (0, 1), weights=s)[0] / (s.sum() + 1e-6)
    sat = np.histogram(s, 6, (0, 1))[0] / s.size
    val = np.histogram(v, 6, (0, 1))[0] / v.size
    g = np.asarray(img.convert("L").resize((128, 128)), np.float32) / 255
    edges = np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()
    return np.concatenate([hue, sat, val, [s.mean(), s.std(), v.mean(), v.std(), edges]]).astype(np.float32)

@torch.no_grad()
def taps(net, x):
    conv, bn, *blocks = net.stem_layers
    h = net.act(bn(conv(x)))
    out = {}
    allb = list(blocks) + list(net.tail_blocks)
    for i, b in enumerate(allb):
        h = b(h)
        if i in STAGE_ENDS:
            out[f"b{i}"] = torch.cat([h.mean((2, 3)), h.std((2, 3))], 1)
    h = net.act(net.head_conv(h))
    out["pool"] = h.mean((2, 3))
    out["poolstd"] = h.std((2, 3))
    return out

def extract(items, size):
    path = OUT / f"taps_{size}.pt"
    if path.exists():
        return torch.load(path)
    spec = CoverSpec(size=size)
    net = CoverNet(len(spec.labels), size).eval()
    feats, t0 = {}, time.time()
    for i in range(0, len(items), 32):
        imgs = [Image.open(it.path) for it in items[i:i + 32]]
        x = torch.from_numpy(np.stack([preprocess(im, spec) for im in imgs]))
        t = taps(net, x)
        t["colour"] = torch.from_numpy(np.stack([colour_stats(im) for im in imgs]))
        for k, v in t.items():
            feats.setdefault(k, []).append(v)
        if i % 640 == 0:
            print(size, i, f"{time.time()-t0:.0f}s", flush=True)
    feats = {k: torch.cat(v) for k, v in feats.items()}
    torch.save(feats, path)
    return feats

def score(trx, try_, tex, tey, n, l2):
    mu, sd = trx.mean(0), trx.std(0) + 1e-6
    m = fit_logreg((trx - mu) / sd, try_, n, l2)
    with torch.no_grad():
        return (m((tex - mu) / sd).argmax(1) == tey).float().mean().item()

L2 = (1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)

def pick_l2(items, X, y, idx, n):
    folds = group_folds(items, 4, seed=1)
    pos = {id(it): j for j, it in enumerate(items)}
    res = {}
    for l2 in L2:
        accs = []
        for k in range(4):
            te = [idx[pos[id(it)]] for it in folds[k]]
            tr = [idx[pos[id(it)]] for j, f in enumerate(folds) if j != k for it in f]
            accs.append(score(X[tr], y[tr], X[te], y[te], n, l2))
        res[l2] = float(np.mean(accs))
    return max(res, key=res.get), res

def main():
    sets = load_splits(Path("/work/shared/data"))
    items = [it for s in sets.values() for sp in s.values() for it in sp]
    row = {it.path: i for i, it in enumerate(items)}
    F = {sz: extract(items, sz) for sz in (224, 320)}
    variants = {
        "pool224": [(224, "pool")],
        "style224": [(224, "pool"), (224, "b10"), (224, "b14")],
        "rich224": [(224, k) for k in ("pool", "poolstd", "b4", "b7", "b10", "b14", "colour")],
        "pool224+320": [(224, "pool"), (320, "pool")],
        "rich224+320": [(sz, k) for sz in (224, 320) for k in ("pool", "b7", "b10", "b14")] + [(224, "colour")],
    }
    results = {}
    for name, parts in variants.items():
        X = torch.cat([F[sz][k] for sz, k in parts], 1)
        for dset, sp in sets.items():
            labels = sorted({it.label for it in sp["train"]})
            def xy(its):
                return [row[it.path] for it in its], torch.tensor([labels.index(it.label) for it in its])
            tri, trY = xy(sp["train"]); vai, vaY = xy(sp["val"])
            l2, grid = pick_l2(sp["train"], X, torch.zeros(len(X), dtype=torch.long).index_put_((torch.tensor(tri),), trY), tri, len(labels))
            val = score(X[tri], trY, X[vai], vaY, len(labels), l2)
            tv = sp["train"] + sp["val"]
            folds = group_folds(tv, 5, seed=0)
            cv = []
            for k in range(5):
                tei, teY = xy(folds[k]); trj, trjY = xy([it for j, f in enumerate(folds) if j != k for it in f])
                cv.append(score(X[trj], trjY, X[tei], teY, len(labels), l2))
            results[f"{name}/{dset}"] = {"dim": X.shape[1], "l2": l2, "val": round(val, 4),
                                         "cv5_trainval": round(float(np.mean(cv)), 4), "cv_sd": round(float(np.std(cv)), 4)}
            print(name, dset, results[f"{name}/{dset}"], flush=True)
    (OUT / "screen.json").write_text(json.dumps(results, indent=1))

main()
