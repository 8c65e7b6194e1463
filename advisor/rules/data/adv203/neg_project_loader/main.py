from data import get_features, get_loaders
from trainer import Trainer

trainer = Trainer(lr=0.1)
train_loader, test_loader = get_loaders("data", 128)
trainer.fit(train_loader, epochs=30)
trainer.evaluate(test_loader)
trainer.fit(get_features(64), epochs=5)
features = get_features(64)
trainer.fit(features, epochs=5)
