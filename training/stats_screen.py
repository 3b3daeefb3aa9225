"""Screen: bag-of-frames statistics of the FMA thumbnails + logistic regression."""
import numpy as np, time
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.model_selection import GroupKFold
z = np.load('/work/main/runs/cache/fma_small_thumbnails-9a361a7769.npz')
db = z['images'].astype(np.float32) / 255 * 80 - 80   # [N, T, M]
y, sp, art = z['labels'], z['splits'], z['artists']
def feats(X):
    f = [X.mean(1), X.std(1), *np.percentile(X, [10, 50, 90], axis=1)]
    d = np.abs(np.diff(X, axis=1)); f += [d.mean(1)]
    g = X.reshape(len(X), 128, 16, 8).mean(3)          # 16 band groups
    mod = np.abs(np.fft.rfft(g - g.mean(1, keepdims=True), axis=1))[:, 1:17]  # [N,16,16]
    f += [np.log1p(mod).reshape(len(X), -1)]
    e = X.mean(2); f += [np.stack([e.mean(1), e.std(1), np.percentile(e, 10, 1), np.percentile(e, 90, 1)], 1)]
    return np.concatenate(f, 1)
t=time.time(); F = feats(db); print(F.shape, time.time()-t)
tr, va = sp == 'training', sp == 'validation'
sc = StandardScaler().fit(F[tr]); Ftr, Fva = sc.transform(F[tr]), sc.transform(F[va])
best = None
for C in (0.001, 0.003, 0.01, 0.03, 0.1):
    accs = []
    for a, b in GroupKFold(4).split(Ftr, y[tr], art[tr]):
        m = LogisticRegression(C=C, max_iter=2000).fit(Ftr[a], y[tr][a]); accs.append((m.predict(Ftr[b]) == y[tr][b]).mean())
    print('C', C, 'grouped cv on train', np.mean(accs), flush=True)
    if best is None or np.mean(accs) > best[0]: best = (np.mean(accs), C)
m = LogisticRegression(C=best[1], max_iter=3000).fit(Ftr, y[tr])
p = m.predict_proba(Fva); print('val acc', (p.argmax(1) == y[va]).mean(), 'C', best[1])
np.save('/work/main/runs/cover-screen/stats_val_proba.npy', p)
