from data import get_loaders
from trainer import Trainer

trainer = Trainer(lr=0.1)
train_loader, test_loader = get_loaders("data", 128)
trainer.fit(train_loader, epochs=30)
trainer.report(test_loader)
