"""Screen: frozen ImageNet Lite0 descriptor (cover recipe) of the FMA thumbnails + logistic regression."""
import sys, time, numpy as np, torch
import torch.nn.functional as F
sys.path.insert(0, '/work/main')
from model.cover_net import CoverNet
from training.train_cover import fit_linear
torch.set_num_threads(2)
z = np.load('/work/main/runs/cache/fma_small_thumbnails-9a361a7769.npz')
X, y, sp, art = z['images'], z['labels'], z['splits'], z['artists']
out = '/work/main/runs/cover-screen/genre_frozen_desc.pt'
try:
    D = torch.load(out)
except FileNotFoundError:
    net = CoverNet(8, scales=(224,)).eval()
    D, t0 = [], time.time()
    with torch.no_grad():
        for i in range(0, len(X), 64):
            db = torch.from_numpy(X[i:i+64].astype(np.float32)) / 255 * 2 - 1   # [B, T, M] in [-1, 1]
            img = db.transpose(1, 2).flip(1)[:, None].repeat(1, 3, 1, 1)          # [B, 3, M (high->low), T]
            D.append(net.describe(F.interpolate(img, size=(224, 224), mode='bilinear', align_corners=False)))
            if i % 1280 == 0: print(i, time.time() - t0, flush=True)
    D = torch.cat(D); torch.save(D, out)
tr, va = sp == 'training', sp == 'validation'
mu, sd = D[tr].mean(0), D[tr].std(0) + 1e-6
Z = (D - mu) / sd
Y = torch.from_numpy(y)
ones = lambda n: torch.ones(n, 8, dtype=torch.bool)
# L2 by artist-grouped 4-fold CV on training
tri = np.where(tr)[0]; arts = np.unique(art[tri]); rng = np.random.default_rng(0); rng.shuffle(arts)
fold_of = {a: k % 4 for k, a in enumerate(arts)}
f = np.array([fold_of[a] for a in art[tri]])
best = None
for l2 in (1e-3, 1e-2, 3e-2, 1e-1, 3e-1):
    accs = []
    for k in range(4):
        a, b = tri[f != k], tri[f == k]
        m = fit_linear(Z[a], Y[a], ones(len(a)), torch.ones(len(a)), l2)
        accs.append((m(Z[b]).argmax(1) == Y[b]).float().mean().item())
    print('l2', l2, 'grouped cv', np.mean(accs), flush=True)
    if best is None or np.mean(accs) > best[0]: best = (np.mean(accs), l2)
m = fit_linear(Z[tr], Y[tr], ones(tr.sum()), torch.ones(tr.sum()), best[1])
with torch.no_grad(): p = torch.softmax(m(Z[va]), 1).numpy()
print('val acc', (p.argmax(1) == y[va]).mean(), 'l2', best[1])
pb = np.load('/work/main/runs/cover-screen/B_val_proba.npy')
for w in (0.2, 0.3, 0.5):
    e = (1 - w) * np.log(pb + 1e-9) + w * np.log(p + 1e-9); print('ensemble w', w, (e.argmax(1) == y[va]).mean())
