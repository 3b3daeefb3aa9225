import numpy as np, sys
sys.path.insert(0, '/work/main')
from model.session import GenreModel, softmax
from training.evaluate import window_logits
from training.config import TrainConfig
from training.fma import load_features
data = load_features(TrainConfig()).subset('validation')
m = GenreModel.load() if hasattr(GenreModel, 'load') else GenreModel('model/genre_crnn.onnx')
full, _ = window_logits(m, data.images, data.images.shape[1], 1)
pb = softmax(full / m.card.temperature)
np.save('/work/main/runs/cover-screen/B_val_proba.npy', pb)
ps = np.load('/work/main/runs/cover-screen/stats_val_proba.npy')
y = data.labels
print('B', (pb.argmax(1) == y).mean(), 'stats', (ps.argmax(1) == y).mean())
for w in (0.2, 0.3, 0.5):
    e = (1 - w) * np.log(pb + 1e-9) + w * np.log(ps + 1e-9)
    print('w', w, (e.argmax(1) == y).mean())
